"""Detector geometry without any model: anchors, box decoding, NMS, crops, similarities."""

import math

import numpy as np

from aign_tf import testing
from aign_tf.detectors import anchors
from aign_tf.detectors import blazeface
from aign_tf.detectors import blazepose
from aign_tf.detectors import geometry


class AnchorsTest(testing.TestCase):

  def test_anchor_counts(self):
    # 28x28x2 + 14x14x2 + 7x7x6 and 16x16x2 + 8x8x6, as the .tflite outputs have.
    self.assertEqual(anchors.ssd_anchors(anchors.BLAZEPOSE).shape, (2254, 4))
    self.assertEqual(anchors.ssd_anchors(anchors.BLAZEFACE_SHORT_RANGE).shape, (896, 4))

  def test_anchor_layout_blazeface(self):
    a = anchors.ssd_anchors(anchors.BLAZEFACE_SHORT_RANGE)
    # Two anchors per cell of the 16x16 map, columns fastest, unit size (fixed size).
    np.testing.assert_allclose(a[0], [0.5 / 16, 0.5 / 16, 1, 1])
    np.testing.assert_allclose(a[1], a[0])
    np.testing.assert_allclose(a[2, :2], [1.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(a[32, :2], [0.5 / 16, 1.5 / 16])
    # Then six anchors per cell of the 8x8 map (three stride-16 layers share it).
    np.testing.assert_allclose(a[512:518, :2], [[0.5 / 8, 0.5 / 8]] * 6)
    np.testing.assert_allclose(a[-1, :2], [7.5 / 8, 7.5 / 8])

  def test_anchor_sizes_without_fixed_size(self):
    spec = anchors.BLAZEFACE_SHORT_RANGE._replace(fixed_anchor_size=False)
    a = anchors.ssd_anchors(spec)
    s0, s1 = 0.1484375, 0.1484375 + (0.75 - 0.1484375) / 3
    np.testing.assert_allclose(a[0, 2:], [s0, s0], rtol=1e-6)
    np.testing.assert_allclose(a[1, 2:], [math.sqrt(s0 * s1)] * 2, rtol=1e-6)
    # The last layer's interpolated anchor uses scale 1 as the next one.
    np.testing.assert_allclose(a[-1, 2:], [math.sqrt(0.75)] * 2, rtol=1e-6)


class DecodeTest(testing.TestCase):

  def test_decode_detections_preset(self):
    anchor = np.array([[0.5, 0.5, 1.0, 1.0], [0.25, 0.25, 1.0, 1.0], [0.5, 0.5, 1.0, 1.0]])
    raw = np.zeros((3, 6))
    raw[0] = [22.4, -11.2, 44.8, 22.4, 11.2, 0.0]  # x, y, w, h, then one keypoint x, y.
    raw[2] = [0.0, 0.0, -10.0, 10.0, 0.0, 0.0]  # Negative width: dropped.
    boxes, keypoints, scores = geometry.decode_detections(
        raw, np.array([[0.0], [-1.0], [1000.0]]), anchor, (224, 224), 1, min_score=0.5)
    self.assertLen(scores, 1)
    np.testing.assert_allclose(boxes[0], [0.5, 0.4, 0.7, 0.5])
    np.testing.assert_allclose(keypoints[0], [[0.55, 0.5]])
    self.assertAlmostEqual(scores[0], 0.5)

  def test_score_logits_are_clipped(self):
    _, _, scores = geometry.decode_detections(np.zeros((1, 4)), np.array([1e6]),
                                              np.array([[0.5, 0.5, 1, 1]]), (128, 128), 0)
    self.assertTrue(np.isfinite(scores[0]))
    self.assertAlmostEqual(scores[0], 1.0)

  def test_weighted_nms_merges_overlapping_boxes(self):
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], np.float64)
    keypoints = np.array([[[5, 5]], [[6, 5]], [[55, 55]]], np.float64)
    scores = np.array([0.3, 0.9, 0.6])
    out_boxes, out_keypoints, out_scores = geometry.weighted_nms(boxes, keypoints, scores)
    np.testing.assert_allclose(out_scores, [0.9, 0.6])
    # Score-weighted means of the cluster (weights 0.9 and 0.3), the best one's score.
    np.testing.assert_allclose(out_boxes[0], [0.75, 0, 10.75, 10])
    np.testing.assert_allclose(out_keypoints[0], [[5.75, 5]])
    np.testing.assert_allclose(out_boxes[1], boxes[2])

  def test_iou(self):
    np.testing.assert_allclose(geometry.iou([0, 0, 2, 2], np.array([[1, 0, 3, 2],
                                                                    [5, 5, 6, 6]])),
                               [2 / 6, 0.0])


class CropTest(testing.TestCase):

  def test_crop_matrix_maps_corners_of_a_rotated_rect(self):
    rect = geometry.Rect((100.0, 50.0), (40.0, 20.0), math.pi / 2)
    matrix = geometry.crop_matrix(rect, (80, 40))
    # The crop's centre is the rect's; its x axis points down the image (90 degrees).
    np.testing.assert_allclose(geometry.transform_points(matrix, [40, 20]), [100, 50])
    np.testing.assert_allclose(geometry.transform_points(matrix, [80, 20]), [100, 70],
                               atol=1e-9)
    np.testing.assert_allclose(geometry.transform_points(matrix, [40, 0]), [110, 50],
                               atol=1e-9)

  def test_pad_to_aspect_letterboxes(self):
    rect = geometry.pad_to_aspect(geometry.image_rect(300, 100), (224, 224))
    self.assertEqual(rect.size, (300.0, 300.0))
    self.assertEqual(rect.center, (150.0, 50.0))
    # The tensor's first row shows the zero padding above the image.
    image = np.full((100, 300, 3), 200, np.uint8)
    crop = geometry.warp(image, geometry.crop_matrix(rect, (30, 30)), (30, 30))
    self.assertEqual(crop[0, 15, 0], 0.0)
    self.assertEqual(crop[15, 15, 0], 200.0)

  def test_warp_identity_and_borders(self):
    image = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    np.testing.assert_allclose(geometry.warp(image, np.eye(3), (4, 4)), image)
    shift = np.array([[1, 0, -1], [0, 1, 0], [0, 0, 1]], np.float64)  # One pixel left.
    zero = geometry.warp(image, shift, (4, 4), border="zero")
    replicate = geometry.warp(image, shift, (4, 4), border="replicate")
    np.testing.assert_allclose(zero[:, 0], 0)
    np.testing.assert_allclose(replicate[:, 0], image[:, 0])
    np.testing.assert_allclose(zero[:, 1:], image[:, :3])

  def test_rect_from_alignment_points(self):
    # Upright: the scale point straight above the centre -> no rotation.
    rect = geometry.rect_from_alignment_points((100, 200), (100, 120), math.pi / 2, 1.25)
    self.assertAlmostEqual(rect.angle, 0.0)
    self.assertEqual(rect.size, (200.0, 200.0))
    # Lying with the head to the image's right: the crop turns by 90 degrees (clockwise on
    # screen) so its "up" (-y) points along +x of the image.
    rect = geometry.rect_from_alignment_points((100, 200), (180, 200), math.pi / 2)
    self.assertAlmostEqual(rect.angle, math.pi / 2)
    up = geometry.transform_points(geometry.crop_matrix(rect, (2, 2)), [1, 0])
    np.testing.assert_allclose(up, [180, 200], atol=1e-9)


class SimilarityTest(testing.TestCase):

  def test_similarity_maps_points_and_round_trips(self):
    rng = np.random.default_rng(0)
    for _ in range(5):
      source, target = rng.uniform(-100, 100, (2, 2, 2))
      matrix = geometry.similarity_matrix(source, target)
      np.testing.assert_allclose(geometry.transform_points(matrix, source), target, atol=1e-9)
      # A similarity: the linear part is a scaled rotation.
      linear = matrix[:2, :2]
      np.testing.assert_allclose(linear @ linear.T, np.eye(2) * np.linalg.det(linear),
                                 atol=1e-9)
      points = rng.uniform(-100, 100, (10, 2))
      back = geometry.transform_points(np.linalg.inv(matrix),
                                       geometry.transform_points(matrix, points))
      np.testing.assert_allclose(back, points, atol=1e-9)

  def test_similarity_rejects_coincident_points(self):
    with self.assertRaises(ValueError):
      geometry.similarity_matrix([[1, 1], [1, 1]], [[0, 0], [1, 0]])


def _fake_face(eyes):
  right, left = np.asarray(eyes, np.float64)
  centre = (right + left) / 2
  down = np.array([-(left - right)[1], (left - right)[0]])  # Eye line turned +90 degrees.
  keypoints = np.stack([right, left, centre + 0.5 * down, centre + 0.9 * down,
                        right - (left - right) * 0.4, left + (left - right) * 0.4])
  return blazeface.Face(np.array([0, 0, 1, 1]), keypoints, 1.0)


class AlignTest(testing.TestCase):

  def test_align_puts_eyes_on_canonical_positions_and_pastes_back(self):
    rng = np.random.default_rng(1)
    image = np.clip(rng.normal(128, 40, (120, 160, 3)), 0, 255).astype(np.uint8)
    image = np.asarray(geometry.warp(image, np.diag([0.25, 0.25, 1]), (160, 120)), np.uint8)
    face = _fake_face([[60, 50], [95, 62]])  # A tilted face.
    eyes = ((0.3, 0.4), (0.7, 0.4))
    aligned = blazeface.align(image, face, size=64, eyes=eyes)
    np.testing.assert_allclose(aligned.keypoints[:2], np.array(eyes) * 64, atol=1e-9)
    np.testing.assert_allclose(aligned.matrix @ aligned.inverse, np.eye(3), atol=1e-12)
    # Pasting the unchanged crop back leaves the photo (nearly) as it was.
    pasted = blazeface.paste_back(image, aligned.crop, aligned.matrix)
    self.assertLess(np.abs(pasted.astype(float) - image).mean(), 2.0)
    # A grey crop at another size lands where the face was, and nowhere far from it.
    grey = np.full((128, 128, 3), 255, np.uint8)
    pasted = blazeface.paste_back(image, grey, aligned.matrix, aligned_size=64)
    centre = np.round(face.keypoints[:2].mean(0)).astype(int)
    np.testing.assert_array_equal(pasted[centre[1], centre[0]], [255, 255, 255])
    np.testing.assert_array_equal(pasted[5, 150], image[5, 150])

  def test_part_boxes_scale_with_eye_distance(self):
    face = _fake_face([[100, 100], [150, 100]])
    mouth = blazeface.part_box(face.keypoints, "mouth")
    nose = blazeface.part_box(face.keypoints, "nose")
    np.testing.assert_allclose((mouth[:2] + mouth[2:]) / 2, face.keypoints[3])
    np.testing.assert_allclose(mouth[2:] - mouth[:2], np.array([0.34, 0.17]) / 0.28 * 50)
    np.testing.assert_allclose(nose[2:] - nose[:2], np.array([0.22, 0.22]) / 0.28 * 50)
    with self.assertRaisesRegex(ValueError, "mouth"):
      blazeface.part_box(face.keypoints, "ear")


class MappingTest(testing.TestCase):

  def test_blazepose_to_h36m17(self):
    rng = np.random.default_rng(2)
    points = rng.uniform(0, 100, (33, 2))
    visibility = rng.uniform(0.2, 1.0, 33)
    pixels, confidence = blazepose.to_h36m17((points, visibility))
    mid = lambda a, b: (points[a] + points[b]) / 2
    np.testing.assert_allclose(pixels[0], mid(23, 24), rtol=1e-5)  # pelvis
    np.testing.assert_allclose(pixels[1], points[24], rtol=1e-5)  # r_hip
    np.testing.assert_allclose(pixels[6], points[27], rtol=1e-5)  # l_ankle
    np.testing.assert_allclose(pixels[8], mid(11, 12), rtol=1e-5)  # thorax
    np.testing.assert_allclose(pixels[7], (mid(23, 24) + mid(11, 12)) / 2, rtol=1e-5)
    np.testing.assert_allclose(pixels[9], points[0], rtol=1e-5)  # nose
    np.testing.assert_allclose(pixels[10], 1.5 * mid(7, 8) - 0.5 * mid(11, 12), rtol=1e-5)
    np.testing.assert_allclose(pixels[13], points[15], rtol=1e-5)  # l_wrist
    np.testing.assert_allclose(pixels[16], points[16], rtol=1e-5)  # r_wrist
    self.assertAlmostEqual(confidence[0], min(visibility[23], visibility[24]), places=6)

"""BlazeFace and BlazePose on a real photo: scikit-image's astronaut (Eileen Collins, 512x512,
facing the camera, upper body; her right side is on the image's left).

Reference points read off the photo: eye centres ~(205, 101) (her right) and ~(249, 107),
nose tip ~(224, 124), mouth centre ~(221, 146); the face spans about x 180-270, y 70-180;
her body (suit and arms) lies within x 15-370. The models are fetched once into the test
cache (skipped, with the reason, when that is impossible).
"""

import os

import numpy as np
from PIL import Image
import skimage.data

from aign_tf import errors
from aign_tf import testing
from aign_tf.core import skeleton
from aign_tf.detectors import blazeface
from aign_tf.detectors import blazepose
from aign_tf.detectors import testing as detector_testing

RIGHT_EYE, LEFT_EYE, NOSE, MOUTH = (205, 101), (249, 107), (224, 124), (221, 146)
FACE_CORE = (195, 95, 260, 155)  # Eyes to mouth: must be inside the face box.
FACE_LIMIT = (150, 40, 300, 210)  # The face box must be inside this.
PERSON_BOX = (15, 10, 370, 512)
GREY = np.full((240, 320, 3), 128, np.uint8)


class BlazeFaceAstronautTest(testing.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.detector = blazeface.FaceDetector(detector_testing.model_dir())
    cls.image = skimage.data.astronaut()
    cls.faces = cls.detector(cls.image)

  def test_one_face_whose_box_holds_the_face(self):
    self.assertLen(self.faces, 1)
    face = self.faces[0]
    self.assertGreater(face.score, 0.8)
    box = face.box
    self.assertTrue(np.all(box[:2] <= FACE_CORE[:2]) and np.all(box[2:] >= FACE_CORE[2:]),
                    box)
    self.assertTrue(np.all(box[:2] >= FACE_LIMIT[:2]) and np.all(box[2:] <= FACE_LIMIT[2:]),
                    box)

  def test_keypoints_near_the_reference_and_not_swapped(self):
    keypoints = self.faces[0].keypoints
    for index, expected in ((0, RIGHT_EYE), (1, LEFT_EYE), (2, NOSE), (3, MOUTH)):
      self.assertLess(np.linalg.norm(keypoints[index] - expected), 8.0,
                      f"{blazeface.KEYPOINTS[index]} at {keypoints[index]}")
    # Her right eye and ear are on the image's left.
    self.assertLess(keypoints[0, 0], keypoints[1, 0])
    self.assertLess(keypoints[4, 0], keypoints[5, 0])

  def test_several_faces(self):
    # Her head twice, side by side, the right copy mirrored: two faces, each in its half.
    head = self.image[0:256, 100:356]
    pair = np.concatenate([head, head[:, ::-1]], axis=1)
    faces = self.detector(pair)
    self.assertLen(faces, 2)
    left, right = sorted(faces, key=lambda f: f.box[0])
    self.assertLess(left.box[2], 256)
    self.assertGreater(right.box[0], 256)
    # In the mirror image the keypoint labelled "right eye" is still on the image's left.
    for face in faces:
      self.assertLess(face.keypoints[0, 0], face.keypoints[1, 0])
    np.testing.assert_allclose(left.keypoints[0], np.subtract(RIGHT_EYE, (100, 0)), atol=8)

  def test_aligned_crop_puts_the_eyes_where_asked(self):
    eyes = ((0.4, 0.45), (0.6, 0.45))
    aligned = blazeface.align(self.image, self.faces[0], size=256, eyes=eyes)
    self.assertEqual(aligned.crop.shape, (256, 256, 3))
    # Detected again in the crop (an independent look), the eyes are within 5% of the side.
    again = self.detector(aligned.crop)
    self.assertLen(again, 1)
    np.testing.assert_allclose(again[0].keypoints[:2] / 256, eyes, atol=0.05)
    # The inverse takes crop pixels back to the photo.
    back = blazeface.geometry.transform_points(aligned.inverse, np.array(eyes) * 256)
    np.testing.assert_allclose(back, self.faces[0].keypoints[:2], atol=1e-6)

  def test_mouth_box_covers_the_mouth(self):
    box = blazeface.part_box(self.faces[0].keypoints, "mouth")
    self.assertTrue(box[0] < MOUTH[0] - 15 and box[2] > MOUTH[0] + 15, box)
    self.assertTrue(box[1] < MOUTH[1] < box[3] and box[1] > NOSE[1], box)

  def test_no_face_is_a_data_error_naming_the_file(self):
    self.assertEqual(self.detector(GREY), [])
    path = os.path.join(self.get_temp_dir(), "grey.png")
    Image.fromarray(GREY).save(path)
    with self.assertRaisesRegex(errors.DataError, "grey.png: no face found"):
      blazeface.faces_in_photo(path, self.detector)

  def test_photo_with_exif_rotation_is_detected_upright(self):
    # Stored turned 90 degrees counter-clockwise with orientation 6 (turn clockwise to view).
    exif = Image.Exif()
    exif[0x0112] = 6
    path = os.path.join(self.get_temp_dir(), "phone.jpg")
    Image.fromarray(np.rot90(self.image)).save(path, exif=exif, quality=95)
    image, faces = blazeface.faces_in_photo(path, self.detector)
    self.assertEqual(image.shape, self.image.shape)
    np.testing.assert_allclose(faces[0].keypoints[:2], self.faces[0].keypoints[:2], atol=4)


class BlazePoseAstronautTest(testing.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.detector = blazepose.PoseDetector(detector_testing.model_dir())
    cls.image = skimage.data.astronaut()
    cls.pose = blazepose.detect_pose(cls.image, cls.detector)

  def test_visible_landmarks_inside_the_person(self):
    self.assertGreater(self.pose.score, 0.5)
    visible = self.pose.landmarks[self.pose.visibility > 0.5]
    self.assertGreaterEqual(len(visible), 13)  # Face points and shoulders at least.
    self.assertTrue(np.all(visible >= PERSON_BOX[:2]) and np.all(visible <= PERSON_BOX[2:]),
                    visible)
    index = blazepose.LANDMARKS.index
    self.assertLess(np.linalg.norm(self.pose.landmarks[index("nose")] - NOSE), 10)
    self.assertLess(np.linalg.norm(self.pose.landmarks[index("right_eye")] - RIGHT_EYE), 10)
    self.assertLess(np.linalg.norm(self.pose.landmarks[index("left_eye")] - LEFT_EYE), 10)

  def test_left_and_right_not_swapped(self):
    pixels, _ = blazepose.to_h36m17(self.pose)
    joint = skeleton.JOINTS.index
    # Her right shoulder is on the image's left, well apart from the left one.
    self.assertLess(pixels[joint("r_shoulder"), 0] + 100, pixels[joint("l_shoulder"), 0])
    self.assertLess(pixels[joint("r_hip"), 0], pixels[joint("l_hip"), 0])

  def test_plausible_proportions(self):
    pixels, confidence = blazepose.to_h36m17(self.pose)
    joint = skeleton.JOINTS.index
    length = lambda a, b: np.linalg.norm(pixels[joint(a)] - pixels[joint(b)])
    shoulders = length("l_shoulder", "r_shoulder")
    eyes = np.linalg.norm(np.subtract(RIGHT_EYE, LEFT_EYE))
    self.assertBetween(shoulders / eyes, 3.0, 8.0)
    self.assertBetween(length("r_shoulder", "r_elbow") / shoulders, 0.5, 1.3)
    self.assertBetween(length("thorax", "nose") / shoulders, 0.3, 1.0)
    # The head top is above the nose, the thorax below it.
    self.assertLess(pixels[joint("head"), 1], pixels[joint("nose"), 1])
    self.assertGreater(pixels[joint("thorax"), 1], pixels[joint("nose"), 1])
    self.assertGreater(confidence[joint("thorax")], 0.9)

  def test_tracker_follows_a_moved_frame(self):
    tracker = blazepose.PoseTracker(self.detector)
    first = tracker(self.image)
    # The next frame, moved 40 pixels right; its region comes from the previous landmarks.
    # (Her whole body is extrapolated from the upper half, so the region is ~1300 pixels
    # wide and a landmark moves ~5 pixels with the region alone.)
    frame = np.pad(self.image[:, :-40], ((0, 0), (40, 0), (0, 0)), mode="edge")
    moved = tracker(frame)
    shift = (moved.landmarks - first.landmarks)[:13].mean(0)
    np.testing.assert_allclose(shift, [40, 0], atol=8)

  def test_no_person_is_a_data_error_naming_the_input(self):
    self.assertEqual(self.detector(GREY), [])
    with self.assertRaisesRegex(errors.DataError, "grey.png: no person found"):
      blazepose.detect_pose(GREY, self.detector, where="grey.png")

"""Tests of the 2D keypoints readers: COCO results JSON, the project's JSON, single-person
lists and VideoPose3D npz, with intrinsics from flags, images or files; files written here."""

import json
import math
import os

import numpy as np
from PIL import Image
import tensorflow as tf

from aign_tf import errors
from aign_tf import testing
from aign_tf.core import skeleton
from aign_tf.data.mocap import intrinsics
from aign_tf.data.mocap import keypoints2d

COCO_L_HIP, COCO_R_HIP, COCO_L_EAR, COCO_L_WRIST = 11, 12, 3, 9


def coco_person(rng, low=100, high=400):
  """`[17, 3]` COCO-17 keypoints (u, v, c), all seen."""
  return np.concatenate([rng.uniform(low, high, size=(17, 2)), np.ones((17, 1))], axis=1)


def annotation(person, **fields):
  """A COCO results annotation as detectors write it (flat u, v, c)."""
  return {"keypoints": np.asarray(person).ravel().tolist(), "category_id": 1,
          "bbox": [10.0, 20.0, 100.0, 200.0], "score": 0.9, **fields}


class KeypointsTestCase(testing.TestCase):

  def write(self, data, name="keypoints.json"):
    path = os.path.join(self.get_temp_dir(), name)
    with open(path, "w") as f:
      if isinstance(data, str):
        f.write(data)
      else:
        json.dump(data, f)
    return path

  def assert_one_line_error(self, message, fn, *args, **kwargs):
    """`fn` raises DataError with a one-line message matching `message` (a regex)."""
    with self.assertRaisesRegex(errors.DataError, message) as raised:
      fn(*args, **kwargs)
    self.assertNotIn("\n", str(raised.exception))
    return str(raised.exception)


class ProjectJSONTest(KeypointsTestCase):

  def test_h36m_normalised_coordinates(self):
    pixels = np.random.default_rng(0).uniform(0, 1000, size=(17, 2))
    path = self.write({"layout": "h36m17",
                       "intrinsics": {"fx": 1000.0, "fy": 800.0, "cx": 500.0, "cy": 400.0},
                       "people": [{"keypoints": pixels.tolist()}]})
    result = keypoints2d.read_keypoints(path)
    self.assertEqual(result["keypoints_2d"].shape, (1, 17, 2))
    self.assertAllClose(result["keypoints_2d"][0, :, 0], (pixels[:, 0] - 500.0) / 1000.0)
    self.assertAllClose(result["keypoints_2d"][0, :, 1], (pixels[:, 1] - 400.0) / 800.0)
    self.assertAllClose(result["confidence"], np.ones((1, 17)))
    self.assertEqual(result["layout_source"], f"{path} field 'layout'")

  def test_coco_flat_list_with_k_matrix(self):
    person = coco_person(np.random.default_rng(1))
    person[COCO_L_EAR, 2] = 0.0  # Left ear unseen -> the head top (made from the ears) too.
    k = [[1200.0, 0, 640.0], [0, 1200.0, 360.0], [0, 0, 1]]
    path = self.write([{"image_id": 1, "keypoints": person.ravel().tolist()}])
    result = keypoints2d.read_keypoints_json(path, layout="coco17", intrinsics={"K": k})
    pelvis = (person[COCO_L_HIP, :2] + person[COCO_R_HIP, :2]) / 2
    self.assertAllClose(result["pixels"][0, skeleton.ROOT], pelvis, rtol=1e-5)
    self.assertEqual(result["confidence"][0, 10], 0.0)
    # The missing head top sits on the pelvis.
    self.assertAllClose(result["keypoints_2d"][0, 10], result["keypoints_2d"][0, 0])

  def test_single_person_lists(self):
    person = coco_person(np.random.default_rng(2))
    nested = keypoints2d.read_keypoints(self.write(person.tolist(), "nested.json"),
                                        image_size="640x480")
    flat = keypoints2d.read_keypoints(self.write(person.ravel().tolist(), "flat.json"),
                                      image_size="640x480")
    pairs = keypoints2d.read_keypoints(self.write(person[:, :2].tolist(), "pairs.json"),
                                       image_size="640x480")
    for result in (nested, flat, pairs):
      self.assertEqual(result["layout"], "coco17")
      self.assertAllClose(result["keypoints_2d"], nested["keypoints_2d"])
      self.assertLen(result["groups"], 1)
      self.assertIsNone(result["groups"][0]["image_id"])

  def test_several_people_as_bare_lists(self):
    rng = np.random.default_rng(20)
    people = [coco_person(rng), coco_person(rng)]
    nested = keypoints2d.read_keypoints(self.write([p.tolist() for p in people], "n.json"),
                                        image_size="640x480")
    flat = keypoints2d.read_keypoints(self.write([p.ravel().tolist() for p in people],
                                                 "f.json"), image_size="640x480")
    self.assertLen(nested["keypoints_2d"], 2)
    self.assertAllClose(nested["keypoints_2d"], flat["keypoints_2d"])
    self.assertEqual([p["index"] for p in flat["people"]], [0, 1])

  def test_single_person_object_keeps_score(self):
    person = coco_person(np.random.default_rng(21))
    result = keypoints2d.read_keypoints(
        self.write({"image_id": "a.jpg", **annotation(person)}), image_size="640x480")
    self.assertEqual(result["groups"][0]["image_id"], "a.jpg")
    self.assertEqual(result["people"][0]["score"], 0.9)
    self.assert_one_line_error("keypoints.json: field 'image_id' must be a number or a string",
                               keypoints2d.read_keypoints,
                               self.write({"image_id": [1], **annotation(person)}),
                               image_size="640x480")

  def test_layout_given_for_other_joint_counts(self):
    path = self.write({"intrinsics": {"fx": 1, "fy": 1, "cx": 0, "cy": 0},
                       "people": [{"keypoints": [[1.0, 2.0]] * 15}]})
    self.assert_one_line_error(r"people\[0\].*15 joints and no layout.*--layout",
                               keypoints2d.read_keypoints, path)


class CocoResultsTest(KeypointsTestCase):

  def test_unseen_joints_both_ways_and_inferred_layout(self):
    rng = np.random.default_rng(3)
    first, second = coco_person(rng), coco_person(rng)
    first[COCO_L_WRIST] = [0.0, 0.0, 0.0]  # COCO's way.
    second[COCO_L_WRIST] = [0.0, -3.0, 0.0]  # Another tool's placeholder, still c <= 0.
    path = self.write([annotation(first), annotation(second)], "x.predictions.json")
    result = keypoints2d.read_keypoints(path, image_size="640x480")
    self.assertEqual(result["layout"], "coco17")
    self.assertIn("inferred", result["layout_source"])
    self.assertEqual(result["format"], "coco_results")
    l_wrist = skeleton.JOINTS.index("l_wrist")
    self.assertAllEqual(result["confidence"][:, l_wrist], [0.0, 0.0])
    # Unseen joints sit on the pelvis, in pixels and in the model's input.
    self.assertAllClose(result["pixels"][:, l_wrist], result["pixels"][:, skeleton.ROOT])
    self.assertAllClose(result["keypoints_2d"][:, l_wrist],
                        result["keypoints_2d"][:, skeleton.ROOT])
    self.assertTrue(np.all(result["confidence"][:, skeleton.ROOT] > 0))

  def test_several_people_and_images_grouped_by_image_id(self):
    rng = np.random.default_rng(4)
    annotations = [annotation(coco_person(rng), image_id=7, score=0.8),
                   annotation(coco_person(rng), image_id="b.jpg", score=0.7),
                   annotation(coco_person(rng), image_id=7, score=0.6)]
    no_hips = coco_person(rng)
    no_hips[COCO_R_HIP] = [0.0, 0.0, 0.0]
    annotations.append(annotation(no_hips, image_id="b.jpg", score=0.5))
    result = keypoints2d.read_keypoints(self.write(annotations), image_size=(640, 480))
    self.assertEqual([g["image_id"] for g in result["groups"]], [7, "b.jpg"])
    self.assertEqual([p["group"] for p in result["people"]], [0, 1, 0, 1])
    self.assertEqual([p["row"] for p in result["people"]], [0, 1, 2, None])
    self.assertIn("pelvis", result["people"][3]["skipped"])
    self.assertLen(result["keypoints_2d"], 3)

    joints = np.arange(3 * 17 * 3, dtype=np.float32).reshape(3, 17, 3) / 100
    document = keypoints2d.predictions_to_json(
        result, {"joints_3d": joints, "root_depth": np.array([4.0, 5.0, 6.0])})
    self.assertEqual(document["joint_names"][0], "pelvis")
    image_7, image_b = document["images"]
    self.assertEqual(image_7["image_id"], 7)
    self.assertEqual([p["score"] for p in image_7["people"]], [0.8, 0.6])
    self.assertEqual([p["index"] for p in image_7["people"]], [0, 2])
    self.assertAllClose(image_7["people"][1]["joints_3d"], joints[2])
    self.assertEqual(image_7["people"][0]["bbox"], [10.0, 20.0, 100.0, 200.0])
    self.assertEqual(image_b["people"][0]["root_depth"], 5.0)
    self.assertNotIn("joints_3d", image_b["people"][1])
    self.assertIn("skipped", image_b["people"][1])
    self.assertEqual(image_7["intrinsics"]["fx"], 640.0)
    json.dumps(document, allow_nan=False)  # Valid, finite JSON.

  def test_without_image_id_one_group(self):
    rng = np.random.default_rng(5)
    path = self.write([annotation(coco_person(rng)), annotation(coco_person(rng))])
    result = keypoints2d.read_keypoints(path, image_size="640x480")
    self.assertEqual(result["groups"], [{"image_id": None,
                                         "intrinsics": result["groups"][0]["intrinsics"]}])
    self.assertEqual([p["group"] for p in result["people"]], [0, 0])

  def test_non_finite_prediction_is_refused(self):
    path = self.write([annotation(coco_person(np.random.default_rng(6)))])
    result = keypoints2d.read_keypoints(path, image_size="640x480")
    self.assert_one_line_error("non-finite 'root_depth'", keypoints2d.predictions_to_json,
                               result, {"root_depth": np.array([np.inf])})


class IntrinsicsTest(KeypointsTestCase):

  def coco_file(self):
    person = coco_person(np.random.default_rng(7))
    return self.write([annotation(person)]), person

  def test_intrinsics_flag(self):
    path, person = self.coco_file()
    result = keypoints2d.read_keypoints(path, intrinsics="500,400,300,200")
    self.assertAllClose(result["intrinsics"], [[500.0, 400.0, 300.0, 200.0]])
    nose = skeleton.JOINTS.index("nose")
    self.assertAllClose(result["keypoints_2d"][0, nose],
                        [(person[0, 0] - 300) / 500, (person[0, 1] - 200) / 400], rtol=1e-5)
    self.assertEqual(result["groups"][0]["intrinsics"]["from"], "--intrinsics")

  def test_image_size_assumes_default_field_of_view(self):
    path, _ = self.coco_file()
    result = keypoints2d.read_keypoints(path, image_size="640x480")
    # Default: focal length = image width (53.13 degrees horizontal).
    self.assertAllClose(result["intrinsics"], [[640.0, 640.0, 320.0, 240.0]])
    self.assertAllClose(intrinsics.DEFAULT_FOV_DEGREES, 2 * math.degrees(math.atan(0.5)))
    wide = keypoints2d.read_keypoints(path, image_size="640x480", fov_degrees=90.0)
    self.assertAllClose(wide["intrinsics"], [[320.0, 320.0, 320.0, 240.0]])
    # With fx = fy the model's input after root-centring and scaling ignores the focal length.
    centred = [r["keypoints_2d"] - r["keypoints_2d"][:, :1] for r in (result, wide)]
    self.assertAllClose(centred[0] * 640.0, centred[1] * 320.0, rtol=1e-4)

  def test_image_file_gives_its_size(self):
    path, _ = self.coco_file()
    image = os.path.join(self.get_temp_dir(), "photo.png")
    Image.fromarray(np.zeros((200, 320, 3), np.uint8)).save(image)
    result = keypoints2d.read_keypoints(path, image=image)
    self.assertAllClose(result["intrinsics"], [[320.0, 320.0, 160.0, 100.0]])
    self.assertIn("photo.png", result["groups"][0]["intrinsics"]["from"])

  def test_flags_override_the_file(self):
    person = coco_person(np.random.default_rng(8))
    path = self.write({"intrinsics": {"fx": 1000.0, "fy": 1000.0, "cx": 300.0, "cy": 250.0},
                       "people": [annotation(person)]})
    self.assertAllClose(keypoints2d.read_keypoints(path)["intrinsics"],
                        [[1000.0, 1000.0, 300.0, 250.0]])
    self.assertAllClose(keypoints2d.read_keypoints(path, image_size="640x480")["intrinsics"],
                        [[640.0, 640.0, 320.0, 240.0]])

  def test_missing_intrinsics_error_names_the_three_flags(self):
    path, _ = self.coco_file()
    message = self.assert_one_line_error("no camera intrinsics", keypoints2d.read_keypoints,
                                         path)
    for flag in ("--intrinsics=fx,fy,cx,cy", "--image=", "--image_size=WxH"):
      self.assertIn(flag, message)
    self.assertIn(path, message)

  @testing.parameterized.parameters(
      (dict(intrinsics="-500,500,320,240"), "--intrinsics: focal lengths must be positive"),
      (dict(intrinsics="500,0,320,240"), "focal lengths must be positive"),
      (dict(intrinsics="500,500,320"), "--intrinsics: expected fx,fy,cx,cy"),
      (dict(intrinsics="500,500,5000,240", image_size="640x480"),
       r"principal point \(5000, 240\) is far outside the 640x480 image"),
      (dict(intrinsics="2,2,320,240"), "focal lengths off the principal point"),
      (dict(image_size="640x0"), "--image_size: width and height must be positive"),
      (dict(image_size="big"), "--image_size: expected WxH"),
      (dict(image_size="640x480", fov_degrees=180.0), "field of view"),
      (dict(intrinsics="500,500,320,240", fov_degrees=60.0),
       "--fov_degrees=60 applies to intrinsics made from an image size"),
  )
  def test_bad_intrinsics_raise(self, kwargs, message):
    path, _ = self.coco_file()
    self.assert_one_line_error(message, keypoints2d.read_keypoints, path, **kwargs)

  def test_bad_image_raises(self):
    path, _ = self.coco_file()
    empty = self.write("", "empty.png")
    self.assert_one_line_error("empty.png: empty file", keypoints2d.read_keypoints, path,
                               image=empty)
    text = self.write("not an image", "text.png")
    self.assert_one_line_error("text.png: cannot read the image size",
                               keypoints2d.read_keypoints, path, image=text)

  def test_bad_file_intrinsics_name_the_field(self):
    person = coco_person(np.random.default_rng(9))
    path = self.write({"intrinsics": {"fx": 1.0, "fy": 1.0, "cx": 0.0},
                       "people": [annotation(person)]})
    self.assert_one_line_error(r"field 'intrinsics': missing field 'cy'",
                               keypoints2d.read_keypoints, path)


class BadInputTest(KeypointsTestCase):
  """Each bad input is one line naming the file and the field."""

  def people_file(self, people, **top):
    return self.write({"intrinsics": {"fx": 500, "fy": 500, "cx": 320, "cy": 240},
                       "people": people, **top})

  def test_string_coordinate(self):
    person = coco_person(np.random.default_rng(10)).ravel().tolist()
    person[4] = "12.5"
    path = self.people_file([{"keypoints": person}])
    self.assert_one_line_error(r"keypoints.json: people\[0\].keypoints\[4\] is '12.5' "
                               r"\(a string\), not a number", keypoints2d.read_keypoints, path)

  def test_ragged_joints(self):
    person = coco_person(np.random.default_rng(11)).tolist()
    person[5] = person[5][:2]
    path = self.people_file([{"keypoints": person}])
    self.assert_one_line_error(r"people\[0\].keypoints\[5\] has 2 values, joint 0 has 3",
                               keypoints2d.read_keypoints, path)

  def test_people_not_a_list(self):
    self.assert_one_line_error(r"keypoints.json: field 'people' must be a list of people, "
                               "got int 5", keypoints2d.read_keypoints,
                               self.people_file(5))

  def test_all_joints_unseen(self):
    unseen = np.zeros((17, 3))
    unseen[:, 1] = -3.0
    path = self.write([annotation(unseen), annotation(np.zeros((17, 3)))])
    self.assert_one_line_error("keypoints.json: every keypoint of every person is unseen",
                               keypoints2d.read_keypoints, path, image_size="640x480")

  def test_nobody_with_hips(self):
    person = coco_person(np.random.default_rng(12))
    person[COCO_L_HIP] = 0.0
    self.assert_one_line_error("no person has a visible pelvis", keypoints2d.read_keypoints,
                               self.write([annotation(person)]), image_size="640x480")

  def test_keypoint_finite_in_float64_but_not_float32(self):
    person = coco_person(np.random.default_rng(13))
    person[COCO_L_WRIST, 0] = 1e300
    path = self.write([annotation(person)])
    self.assert_one_line_error(r"\[0\].keypoints: keypoint 9 \(l_wrist\) u = 1e\+300 "
                               "overflows float32", keypoints2d.read_keypoints, path,
                               image_size="640x480")

  def test_nan_keypoint_names_joint(self):
    person = coco_person(np.random.default_rng(14)).tolist()
    person[9][0] = float("nan")
    path = self.write({"layout": "coco17", "intrinsics": {"fx": 1, "fy": 1, "cx": 0, "cy": 0},
                       "people": [{"keypoints": person}]})
    self.assert_one_line_error(r"people\[0\].*keypoint 9 \(l_wrist\) u = nan is not finite",
                               keypoints2d.read_keypoints, path)

  @testing.parameterized.parameters(
      ({"layout": "openpose25", "people": [{"keypoints": [[1.0, 2.0]] * 17}]},
       "field 'layout' must be one of"),
      ({"people": [{"keypoints": [[1.0, 2.0]] * 17, "score": "high"}]},
       r"people\[0\]: field 'score' must be a finite number"),
      ({"people": [{"keypoints": [[1.0, 2.0]] * 17, "bbox": [1, 2]}]},
       r"people\[0\]: field 'bbox' must be \[x, y, width, height\]"),
      ({"people": [{"points": []}]}, r"people\[0\] has no 'keypoints' field"),
      ({"people": []}, "field 'people' is empty"),
      ({"persons": []}, "no 'people', 'annotations' or 'keypoints' field"),
      ({"people": [{"keypoints": [1.0, 2.0, 1.0, 4.0]}]}, "not a multiple of 3"),
      ({"people": [{"keypoints": [[1.0, 2.0]] * 15}], "layout": "coco17"},
       r"people\[0\].keypoints: 15 keypoints, layout 'coco17' has 17"),
  )
  def test_bad_file_raises(self, data, message):
    data = dict(data, intrinsics={"fx": 1, "fy": 1, "cx": 0, "cy": 0})
    self.assert_one_line_error(message, keypoints2d.read_keypoints, self.write(data))

  def test_invalid_json_raises(self):
    self.assert_one_line_error("bad.json: not valid JSON", keypoints2d.read_keypoints,
                               self.write("{not json", "bad.json"))

  def test_missing_file_raises(self):
    self.assert_one_line_error("nope.json: no such file", keypoints2d.read_keypoints,
                               os.path.join(self.get_temp_dir(), "nope.json"))


class VideoPose3DTest(KeypointsTestCase):

  def write_npz(self, name="data_2d_custom_myvideos.npz", layout_name="coco", sizes=None,
                frames=3):
    rng = np.random.default_rng(15)
    clip = np.stack([coco_person(rng)[:, :2] for _ in range(frames)]).astype(np.float32)
    metadata = {"layout_name": layout_name, "num_joints": 17,
                "keypoints_symmetry": [[1, 3, 5, 7, 9, 11, 13, 15],
                                       [2, 4, 6, 8, 10, 12, 14, 16]]}
    if sizes:
      metadata["video_metadata"] = sizes
    path = os.path.join(self.get_temp_dir(), name)
    np.savez_compressed(path, positions_2d={"walk.mp4": {"custom": [clip]},
                                            "run.mp4": {"custom": [clip[:2] + 5.0]}},
                        metadata=metadata)
    return path, clip

  def test_custom_npz_grouped_by_clip_with_sizes_from_the_file(self):
    path, clip = self.write_npz(sizes={"walk.mp4": {"w": 640, "h": 480},
                                       "run.mp4": {"w": 1280, "h": 720}})
    result = keypoints2d.read_keypoints(path)
    self.assertEqual(result["group_by"], "sequences")
    self.assertEqual([(g["subject"], g["action"], g["camera"]) for g in result["groups"]],
                     [("run.mp4", "custom", 0), ("walk.mp4", "custom", 0)])
    self.assertEqual([(p["group"], p["frame"]) for p in result["people"]],
                     [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2)])
    self.assertAllClose(result["intrinsics"][:, 0], [1280, 1280, 640, 640, 640])
    # COCO order in the file -> H36M order for the model: pelvis between the hips.
    self.assertAllClose(result["pixels"][2, skeleton.ROOT],
                        (clip[0, COCO_L_HIP] + clip[0, COCO_R_HIP]) / 2, rtol=1e-5)
    document = keypoints2d.predictions_to_json(result, {"root_depth": np.arange(5.0)})
    self.assertEqual([f["root_depth"] for f in document["sequences"][1]["frames"]],
                     [2.0, 3.0, 4.0])

  def test_select_clips_and_intrinsics_flag(self):
    path, _ = self.write_npz()
    result = keypoints2d.read_keypoints(path, intrinsics="1000,1000,500,500",
                                        subjects=["walk.mp4"], cameras=[0])
    self.assertLen(result["groups"], 1)
    self.assertLen(result["keypoints_2d"], 3)
    self.assert_one_line_error(r"no camera '?3'? in walk.mp4/custom",
                               keypoints2d.read_keypoints, path, intrinsics="1,1,0,0",
                               subjects=["walk.mp4"], cameras=[3])
    self.assert_one_line_error("no camera intrinsics.*--image_size",
                               keypoints2d.read_keypoints, path)
    self.assert_one_line_error(r"--camera\) must be camera indices",
                               keypoints2d.read_keypoints, path, intrinsics="1,1,0,0",
                               cameras=["front"])

  def test_npz_keypoint_too_large_for_float32(self):
    clip = coco_person(np.random.default_rng(16))[None, :, :2].astype(np.float64)
    clip[0, 9, 0] = 1e300
    path = os.path.join(self.get_temp_dir(), "big.npz")
    np.savez(path, positions_2d={"S1": {"A": [clip]}},
             metadata={"layout_name": "coco", "num_joints": 17})
    self.assert_one_line_error(r"big.npz\[S1\]\[A\]\[0\]: frame 0 keypoint 9 \(l_wrist\) is "
                               "not finite in float32", keypoints2d.read_keypoints, path,
                               image_size="640x480")


if __name__ == "__main__":
  tf.test.main()

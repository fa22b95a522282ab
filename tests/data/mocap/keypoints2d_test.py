"""Tests of the 2D keypoints JSON reader (COCO-17 and H36M-17 orders + intrinsics)."""

import json
import os

import numpy as np

from aign_tf import errors
from aign_tf import testing
from aign_tf.data.mocap import keypoints2d


def coco_person(rng):
  keypoints = np.concatenate([rng.uniform(100, 900, size=(17, 2)), np.ones((17, 1))], axis=1)
  return keypoints


class KeypointsJSONTest(testing.TestCase):

  def write(self, data, name="keypoints.json"):
    path = os.path.join(self.get_temp_dir(), name)
    with open(path, "w") as f:
      json.dump(data, f)
    return path

  def test_h36m_normalised_coordinates(self):
    pixels = np.random.default_rng(0).uniform(0, 1000, size=(17, 2))
    path = self.write({"layout": "h36m17",
                       "intrinsics": {"fx": 1000.0, "fy": 800.0, "cx": 500.0, "cy": 400.0},
                       "people": [{"keypoints": pixels.tolist()}]})
    result = keypoints2d.read_keypoints_json(path)
    self.assertEqual(result["keypoints_2d"].shape, (1, 17, 2))
    self.assertAllClose(result["keypoints_2d"][0, :, 0], (pixels[:, 0] - 500.0) / 1000.0)
    self.assertAllClose(result["keypoints_2d"][0, :, 1], (pixels[:, 1] - 400.0) / 800.0)
    self.assertAllClose(result["confidence"], np.ones((1, 17)))

  def test_coco_flat_list_with_k_matrix(self):
    rng = np.random.default_rng(1)
    person = coco_person(rng)
    person[3, 2] = 0.0  # left ear invisible -> the head top (made from the ears) too.
    k = [[1200.0, 0, 640.0], [0, 1200.0, 360.0], [0, 0, 1]]
    path = self.write([{"image_id": 1, "keypoints": person.ravel().tolist()}])
    result = keypoints2d.read_keypoints_json(path, layout="coco17",
                                             intrinsics={"K": k})
    pelvis = (person[11, :2] + person[12, :2]) / 2
    self.assertAllClose(result["pixels"][0, 0], pelvis, rtol=1e-5)
    self.assertEqual(result["confidence"][0, 10], 0.0)
    # The missing head top sits on the pelvis.
    self.assertAllClose(result["keypoints_2d"][0, 10], result["keypoints_2d"][0, 0])

  def test_nan_keypoint_raises_naming_joint(self):
    person = coco_person(np.random.default_rng(2)).tolist()
    person[9][0] = float("nan")
    path = self.write({"layout": "coco17", "intrinsics": {"fx": 1, "fy": 1, "cx": 0, "cy": 0},
                       "people": [{"keypoints": person}]})
    with self.assertRaisesRegex(errors.DataError, r"people\[0\].*keypoint 9 \(l_wrist\)"):
      keypoints2d.read_keypoints_json(path)

  @testing.parameterized.parameters(
      ({"layout": "openpose25"}, "field 'layout'"),
      ({"layout": "coco17"}, "no 'intrinsics'"),
      ({"layout": "coco17", "intrinsics": {"fx": 1.0, "fy": 1.0, "cx": 0.0}}, "'cy'"),
      ({"layout": "coco17", "intrinsics": {"fx": 1, "fy": 1, "cx": 0, "cy": 0},
        "people": [{"keypoints": [[1.0, 2.0]] * 15}]}, "15 keypoints"),
  )
  def test_bad_file_raises(self, data, message):
    with self.assertRaisesRegex(errors.DataError, message):
      keypoints2d.read_keypoints_json(self.write(data))

  def test_invalid_json_raises(self):
    path = os.path.join(self.get_temp_dir(), "bad.json")
    with open(path, "w") as f:
      f.write("{not json")
    with self.assertRaisesRegex(errors.DataError, "not valid JSON"):
      keypoints2d.read_keypoints_json(path)

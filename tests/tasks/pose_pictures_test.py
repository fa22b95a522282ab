"""Tests of the pose pictures: shapes, side colours where the sides are, ground plane."""

import json
import os

import numpy as np
import tensorflow as tf

from aign_tf import testing
from aign_tf.core import skeleton
from aign_tf.data.mocap import keypoints2d
from aign_tf.tasks import pose_pictures


def rgb(hex_color):
  return np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)])


def near(image, hex_color, tolerance=40):
  """Boolean mask `[H, W]` of pixels within `tolerance` (per channel) of a colour."""
  return np.all(np.abs(image.astype(np.int64) - rgb(hex_color)) <= tolerance, axis=-1)


def standing_pose():
  """A camera-frame pose `[17, 3]` facing the camera: the person's left is the image right."""
  offsets = skeleton.REFERENCE_BONE_LENGTHS
  joints = np.zeros((17, 3))
  up = {"spine": 0.23, "thorax": 0.25, "nose": 0.11, "head": 0.12}
  for name, parent in (("spine", "pelvis"), ("thorax", "spine"), ("nose", "thorax"),
                       ("head", "nose")):
    joints[skeleton.JOINTS.index(name)] = joints[skeleton.JOINTS.index(parent)] + [
        0, -up[name], 0]
  for side, sign in (("l", 1.0), ("r", -1.0)):
    hip = skeleton.JOINTS.index(f"{side}_hip")
    joints[hip] = [sign * offsets[f"{side}_hip"], 0, 0]
    joints[hip + 1] = joints[hip] + [sign * 0.05, offsets[f"{side}_knee"], 0]
    joints[hip + 2] = joints[hip + 1] + [0, offsets[f"{side}_ankle"], 0]
    shoulder = skeleton.JOINTS.index(f"{side}_shoulder")
    joints[shoulder] = joints[8] + [sign * offsets[f"{side}_shoulder"], 0, 0]
    joints[shoulder + 1] = joints[shoulder] + [sign * offsets[f"{side}_elbow"], 0, 0]
    joints[shoulder + 2] = joints[shoulder + 1] + [sign * offsets[f"{side}_wrist"], 0.05, 0]
  return joints


class PosePicturesTest(testing.TestCase):

  def setUp(self):
    super().setUp()
    self.joints = np.stack([standing_pose(), standing_pose() * [1.0, 1.0, -1.0]])
    self.keypoints = self.joints[..., :2] / 4.0  # Seen from 4 m, normalised coordinates.

  def test_shapes_rows_follow_groups(self):
    one_per_row = pose_pictures.plot_poses(self.keypoints, self.joints, size=2.0)
    together = pose_pictures.plot_poses(self.keypoints, self.joints, size=2.0, groups=[[0, 1]],
                                        translations=[[-0.8, 0.5, 4.0], [0.8, 0.5, 5.0]])
    self.assertEqual(one_per_row.dtype, np.uint8)
    self.assertEqual(one_per_row.ndim, 3)
    self.assertEqual(one_per_row.shape[2], 3)
    self.assertEqual(one_per_row.shape[1], together.shape[1])  # Three panels wide.
    self.assertGreater(one_per_row.shape[0], 1.8 * together.shape[0])  # Two rows vs one.

  def test_sides_have_their_colours_where_the_sides_are(self):
    image = pose_pictures.plot_poses(self.keypoints[:1], self.joints[:1], size=3.0)
    panel = image[:int(0.9 * image.shape[0]), :image.shape[1] // 3]  # 2D panel, no legend.
    blue = np.argwhere(near(panel, pose_pictures.LEFT_COLOR))
    red = np.argwhere(near(panel, pose_pictures.RIGHT_COLOR))
    grey = np.argwhere(near(panel, pose_pictures.CENTRE_COLOR, tolerance=10))
    self.assertGreater(len(blue), 50)
    self.assertGreater(len(red), 50)
    self.assertGreater(len(grey), 20)
    # The person's left is the image's right when they face the camera.
    self.assertGreater(blue[:, 1].mean(), red[:, 1].mean() + 10)
    # And in the camera-view 3D panel too.
    panel = image[:int(0.9 * image.shape[0]), image.shape[1] // 3:2 * image.shape[1] // 3]
    blue = np.argwhere(near(panel, pose_pictures.LEFT_COLOR))
    red = np.argwhere(near(panel, pose_pictures.RIGHT_COLOR))
    self.assertGreater(len(blue), 30)
    self.assertGreater(blue[:, 1].mean(), red[:, 1].mean() + 5)

  def test_ground_plane_and_truth_are_drawn(self):
    image = pose_pictures.plot_poses(self.keypoints[:1], self.joints[:1],
                                     ground_truth=self.joints[:1] * 1.1, size=3.0)
    panels = image[:, image.shape[1] // 3:]
    ground = np.all(np.abs(panels.astype(np.int64) - 231) <= 6, axis=-1)
    self.assertGreater(ground.sum(), 500)  # The translucent plane under the feet.
    self.assertGreater(near(panels, pose_pictures.TRUTH_COLOR, tolerance=30).sum(), 50)
    # The plane is below the feet: its rows start under the middle of the panel.
    self.assertGreater(np.argwhere(ground)[:, 0].mean(), 0.5 * image.shape[0])

  def test_plot_predictions_groups_by_image(self):
    pixels = self.keypoints * 500 + [320, 240]
    coco = np.zeros((2, 17, 3))
    # COCO order from H36M: place the joints COCO needs (hips, limbs, head).
    h36m_of_coco = {0: 9, 5: 11, 6: 14, 7: 12, 8: 15, 9: 13, 10: 16, 11: 4, 12: 1, 13: 5,
                    14: 2, 15: 6, 16: 3, 1: 9, 2: 9, 3: 10, 4: 10}
    for c, h in h36m_of_coco.items():
      coco[:, c, :2] = pixels[:, h]
    coco[..., 2] = 1.0
    path = os.path.join(self.get_temp_dir(), "people.json")
    with open(path, "w") as f:
      json.dump([{"keypoints": p.ravel().tolist(), "image_id": 3} for p in coco], f)
    keypoints = keypoints2d.read_keypoints(path, image_size="640x480")
    image = pose_pictures.plot_predictions(
        keypoints, {"joints_3d": self.joints,
                    "camera_translation": np.array([[-0.5, 0.4, 4.0], [0.5, 0.4, 4.5]])},
        size=2.0)
    single = pose_pictures.plot_poses(self.keypoints, self.joints, size=2.0)
    self.assertLess(image.shape[0], single.shape[0])  # One row: both people in image 3.


if __name__ == "__main__":
  tf.test.main()

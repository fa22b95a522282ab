"""Export of the pose tasks (`aign_tf.tasks.pose`, `aign_tf.tasks.pose_temporal`).

Per-frame (`serving_default`): `keypoints_2d` float32 `[B, 17, 2]` in normalised camera
coordinates ((u - cx) / fx, (v - cy) / fy), H36M-17 order (`aign_tf.core.skeleton`)
-> `joints_3d` `[B, 17, 3]` metres, root-relative, camera frame (x right, y down, z forward),
`camera_rotation` `[B, 3, 3]` (canonical body frame -> camera frame; identity when the
generator predicts camera-frame poses), `camera_translation` `[B, 3]` (pelvis position in the
camera frame, metres, assuming the reference body size) and `root_depth` `[B]`.

Temporal: `keypoints_2d` float32 `[B, window, 17, 2]` (one window of frames per output
frame) -> the same outputs for the centre frames.
"""

import numpy as np
import tensorflow as tf

from aign_tf.core import skeleton
from aign_tf.models import pose_networks
from aign_tf.renderers import projection
from aign_tf.tasks import export_base
from aign_tf.tasks import pose
from aign_tf.tasks import pose_temporal


def normalise(keypoints):
  """TF version of `pose_data.normalise_keypoints`: `[B, J, 2]` -> (observation `[B, J, 2]`,
  root `[B, 2]`, scale `[B, 1]`)."""
  root = keypoints[:, skeleton.ROOT]
  centred = keypoints - root[:, tf.newaxis]
  squared = tf.reduce_sum(tf.square(centred), axis=-1)
  present = tf.maximum(tf.reduce_sum(tf.cast(squared > 0, tf.float32), -1, keepdims=True), 1.0)
  scale = tf.sqrt(tf.reduce_sum(squared, -1, keepdims=True) / present)
  observation = tf.math.divide_no_nan(centred, scale[:, :, tf.newaxis])
  return observation, root, scale


def _outputs(prediction, root, scale):
  """The generator's prediction -> the exported outputs, the root depth in metres."""
  root_depth = prediction[pose_networks.DEPTH] / scale  # [B, 1]
  return {"joints_3d": prediction[pose_networks.JOINTS_3D],
          "camera_rotation": projection.rotation_matrix(prediction[pose_networks.ROTATION]),
          "camera_translation": tf.concat([root * root_depth, root_depth], axis=-1),
          "root_depth": root_depth[:, 0]}


def outputs_to_json(outputs):
  """Exported-model outputs (NumPy or tensors, batch N) -> a JSON-ready dict.

  {"joint_names": [...17], "units": "metres", "frame": ..., "people": [{"joints_3d": [[x, y,
  z] x 17], "camera_rotation": 3x3, "camera_translation": [x, y, z], "root_depth": d}]}.
  """
  arrays = {k: np.asarray(v, np.float64) for k, v in outputs.items()}
  count = len(arrays["joints_3d"])
  people = [{k: np.round(v[i], 6).tolist() for k, v in arrays.items()} for i in range(count)]
  return {"joint_names": list(skeleton.JOINTS), "units": "metres",
          "frame": "camera (x right, y down, z forward), joints_3d root-relative",
          "people": people}


@export_base.register_export(pose.PoseTask)
class PoseExport(export_base.TaskExport):
  """2D keypoints of one frame in, 3D joints and the camera out."""

  def input_signature(self):
    return {pose.KEYPOINTS_2D: tf.TensorSpec([None, skeleton.NUM_JOINTS, 2], tf.float32,
                                             name=pose.KEYPOINTS_2D)}

  def serve(self, generator, inputs):
    keypoints = tf.convert_to_tensor(inputs[pose.KEYPOINTS_2D], tf.float32)
    observation, root, scale = normalise(keypoints)
    return _outputs(generator(observation, training=False), root, scale)

  def conventions(self):
    return (
        "input keypoints_2d: float32 [B, 17, 2], normalised camera coordinates "
        "((u - cx) / fx, (v - cy) / fy), Human3.6M-17 joint order: " +
        ", ".join(skeleton.JOINTS) + ". Missing joints: put them on the pelvis (joint 0). "
        "outputs: joints_3d float32 [B, 17, 3] metres, root-relative (pelvis at 0), camera "
        "frame x right, y down, z forward; camera_rotation [B, 3, 3] canonical body frame "
        "(y up, facing +z) -> camera frame (identity when the generator predicts camera-frame "
        "poses, the default); camera_translation [B, 3] pelvis in the camera "
        "frame (metres, for a reference-sized adult); root_depth [B] its z.")


@export_base.register_export(pose_temporal.PoseTemporalTask)
class PoseTemporalExport(PoseExport):
  """A window of 2D frames per output frame in; the centre frame's 3D joints and camera
  out."""

  def input_signature(self):
    return {pose.KEYPOINTS_2D: tf.TensorSpec(
        [None, self.task.window, skeleton.NUM_JOINTS, 2], tf.float32,
        name=pose.KEYPOINTS_2D)}

  def serve(self, generator, inputs):
    window = self.task.window
    keypoints = tf.convert_to_tensor(inputs[pose.KEYPOINTS_2D], tf.float32)
    frames, _, _ = normalise(tf.reshape(keypoints, [-1, skeleton.NUM_JOINTS, 2]))
    windows = tf.reshape(frames, [-1, window, skeleton.NUM_JOINTS, 2])
    _, root, scale = normalise(keypoints[:, window // 2])
    return _outputs(generator(windows, training=False), root, scale)

  def conventions(self):
    window = self.task.window
    return (f"input keypoints_2d: float32 [B, {window}, 17, 2], for each output frame "
            f"the {window} frames centred on it (repeat the first/last frame at the "
            "ends of a video); each frame as the pose model's keypoints_2d. outputs: the "
            "pose model's, for the centre frames. " + super().conventions())

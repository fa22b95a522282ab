"""Export of the structure-from-motion task (`aign_tf.tasks.sfm`).

`target_frame`, `source_frame` uint8 `[B, H, W, 3]` and `intrinsics` float32 `[B, 4]` in;
`depth` `[B, H, W, 1]`, `egomotion` `[B, 6]` and `points` `[B, H, W, 3]` (the target pixels
unprojected with the depth) out. The frames go through the task's own batch layout
(`SfmTask.to_batch`), so a served model sees what the trained one saw.
"""

import tensorflow as tf

from aign_tf.core import keys
from aign_tf.renderers import view_synthesis
from aign_tf.tasks import export_base
from aign_tf.tasks import sfm


@export_base.register_export(sfm.SfmTask)
class SfmExport(export_base.TaskExport):
  """A frame pair and the intrinsics in; depth, egomotion and a point cloud out."""

  def input_signature(self):
    frame = tf.TensorSpec([None, self.task.height, self.task.width, 3], tf.uint8)
    return {"target_frame": frame, "source_frame": frame,
            "intrinsics": tf.TensorSpec([None, 4], tf.float32)}

  def serve(self, generator, inputs):
    from tensorflow_graphics.rendering.camera import perspective  # pylint: disable=g-import-not-at-top
    batch = self.task.to_batch(inputs)
    prediction = generator(batch[keys.OBSERVATION], training=False)
    depth = prediction["depth"]
    shape = tf.shape(depth)
    grid = tf.broadcast_to(view_synthesis.pixel_grid(shape[1], shape[2])[None],
                           tf.stack([shape[0], shape[1], shape[2], 2]))
    intrinsics = tf.cast(inputs["intrinsics"], tf.float32)
    points = perspective.unproject(
        grid, depth, tf.broadcast_to(intrinsics[:, None, None, :2], tf.shape(grid)),
        tf.broadcast_to(intrinsics[:, None, None, 2:], tf.shape(grid)))
    return {"depth": depth, "egomotion": prediction["egomotion"], "points": points}

  def image_inputs(self):
    return ("target_frame", "source_frame")

  def conventions(self):
    return (f"Inputs: target_frame and source_frame uint8 RGB [B, {self.task.height}, "
            f"{self.task.width}, 3]; intrinsics float32 [B, 4] = (f_x, f_y, c_x, c_y) in "
            "pixels of these images (pixel centres at integers). Outputs: depth float32 "
            "[B, H, W, 1] of the target frame (z along the optical axis; known up to a global "
            "scale); egomotion float32 [B, 6] = (t_x, t_y, t_z, r_x, r_y, r_z) mapping "
            "target-camera points into the source camera, P_s = R P_t + t, R = R_z R_y R_x "
            "(radians); points float32 [B, H, W, 3] = the target pixels unprojected with "
            "depth and intrinsics. Camera axes: x right, y down, z forward.")

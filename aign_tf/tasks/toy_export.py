"""Export of the toy task (`aign_tf.tasks.toy`): the smallest complete `TaskExport`.

`observation` `[B, N]` float32 pair averages in; `factors` `[B, 2N]` and `pair_difference`
`[B, N]` float32 out.
"""

import tensorflow as tf

from aign_tf.tasks import export_base
from aign_tf.tasks import toy


@export_base.register_export(toy.ToyTask)
class ToyExport(export_base.TaskExport):
  """Pair averages in, the factors and each pair's difference out."""

  def input_signature(self):
    return {"observation": tf.TensorSpec([None, self.task.num_pairs], tf.float32)}

  def serve(self, generator, inputs):
    factors = generator(inputs["observation"], training=False)
    pairs = tf.reshape(factors, [-1, self.task.num_pairs, 2])
    return {"factors": factors, "pair_difference": pairs[..., 0] - pairs[..., 1]}

  def conventions(self):
    num_pairs = self.task.num_pairs
    return (f"toy: input 'observation' float32 [B, {num_pairs}], the pair averages "
            f"a_i; outputs 'factors' float32 [B, {2 * num_pairs}] laid out "
            "(a_0 + d_0/2, a_0 - d_0/2, a_1 + d_1/2, ...) and 'pair_difference' float32 "
            f"[B, {num_pairs}] (d_i). Unitless.")

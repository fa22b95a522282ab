"""What the face networks cost: GFLOP per image forward, counted from the traced graph.

Each Conv2D counts 2 * H_out * W_out * k_h * k_w * C_in * C_out FLOPs and each MatMul
2 * M * K * N (multiply-adds twice; element-wise ops are ignored). Optionally times a
forward pass and a training step on this machine.

  python benchmarks/sr_flops.py            # the defaults and the authors' sizes
  python benchmarks/sr_flops.py --time     # also seconds per forward at batch 1
"""

import time

from absl import app
from absl import flags

flags.DEFINE_bool("time", False, "Also time a batch-1 forward pass of each network.")
FLAGS = flags.FLAGS


def conv_flops(concrete_function):
  """Sums Conv2D and MatMul FLOPs of a traced function with static shapes (batch 1)."""
  total = 0
  for op in concrete_function.graph.get_operations():
    if op.type == "Conv2D":
      out = op.outputs[0].shape.as_list()
      kernel = op.inputs[1].shape.as_list()
      total += 2 * out[1] * out[2] * kernel[0] * kernel[1] * kernel[2] * kernel[3]
    elif op.type == "MatMul":
      a, b = op.inputs[0].shape.as_list(), op.inputs[1].shape.as_list()
      total += 2 * a[0] * a[1] * b[1]
  return total


def networks():
  from aign_tf.models import face_networks  # pylint: disable=g-import-not-at-top
  return [
      ("faces_sr.gin default: SRResNet 8 blocks x 64, sub-pixel, 32->128",
       lambda: face_networks.SRResNet(scale=4, filters=64, num_blocks=8), (1, 32, 32, 3)),
      ("faces_sr_paper.gin: SRResNet 15 blocks x 64, resize-conv 5x5 x 256, 32->128",
       lambda: face_networks.SRResNet(scale=4, filters=64, num_blocks=15,
                                      upsample="resize_conv", upsample_filters=256,
                                      upsample_kernel=5, last_kernel=5), (1, 32, 32, 3)),
      ("experiments/faces_bias.py: SRResNet 4 blocks x 32, sub-pixel, 16->64",
       lambda: face_networks.SRResNet(scale=4, filters=32, num_blocks=4), (1, 16, 16, 3)),
      ("faces_sr.gin discriminator: 5 layers from 32, 128x128",
       lambda: face_networks.FaceDiscriminator(num_layers=5), (1, 128, 128, 3)),
      ("faces_inpaint.gin generator: InpaintingNet 32, 64x64",
       lambda: face_networks.InpaintingNet(), (1, 64, 64, 4)),
  ]


def main(argv):
  del argv
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  for label, build, shape in networks():
    model = build()
    function = tf.function(lambda x, m=model: m(x, training=False))
    concrete = function.get_concrete_function(tf.TensorSpec(shape, tf.float32))
    line = f"{conv_flops(concrete) / 1e9:7.2f} GFLOP  {label}"
    if FLAGS.time:
      x = tf.random.uniform(shape)
      function(x)
      start = time.perf_counter()
      for _ in range(5):
        function(x)
      line += f"  ({(time.perf_counter() - start) / 5 * 1000:.0f} ms/forward here)"
    print(line, flush=True)


if __name__ == "__main__":
  app.run(main)

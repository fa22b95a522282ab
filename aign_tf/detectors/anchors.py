"""SSD anchors of the BlazePose and BlazeFace detection networks.

Follows the conventions of MediaPipe's `SsdAnchorsCalculator` as the detection graphs
configure it (`pose_detection_cpu.pbtxt`, `face_detection.pbtxt`): one feature map per
stride, of side ceil(input / stride); consecutive layers with the same stride share one
map; each layer contributes one anchor per aspect ratio plus one "interpolated" anchor
(scale sqrt(s_i * s_{i+1}), s_i = min_scale + (max_scale - min_scale) i / (L - 1), with
s_L = 1). Anchors are listed map by map, row by row, column by column, anchor by anchor;
centres are ((x + 0.5) / W, (y + 0.5) / H), normalised to [0, 1]. With `fixed_anchor_size`
(both networks) every anchor's width and height are 1, so box offsets are in units of the
whole input.
"""

import collections
import math

import numpy as np

AnchorSpec = collections.namedtuple(
    "AnchorSpec", ["input_size", "strides", "min_scale", "max_scale", "aspect_ratios",
                   "interpolated_scale_aspect_ratio", "anchor_offset", "fixed_anchor_size"])

# pose_detection_cpu.pbtxt: 224x224 input, 2254 anchors.
BLAZEPOSE = AnchorSpec(input_size=(224, 224), strides=(8, 16, 32, 32, 32),
                       min_scale=0.1484375, max_scale=0.75, aspect_ratios=(1.0,),
                       interpolated_scale_aspect_ratio=1.0, anchor_offset=(0.5, 0.5),
                       fixed_anchor_size=True)
# face_detection_short_range.pbtxt: 128x128 input, 896 anchors.
BLAZEFACE_SHORT_RANGE = AnchorSpec(input_size=(128, 128), strides=(8, 16, 16, 16),
                                   min_scale=0.1484375, max_scale=0.75, aspect_ratios=(1.0,),
                                   interpolated_scale_aspect_ratio=1.0,
                                   anchor_offset=(0.5, 0.5), fixed_anchor_size=True)


def _scale(spec, index):
  if len(spec.strides) == 1:
    return (spec.min_scale + spec.max_scale) / 2
  return spec.min_scale + (spec.max_scale - spec.min_scale) * index / (len(spec.strides) - 1)


def ssd_anchors(spec):
  """Anchors of an `AnchorSpec`.

  Args:
    spec: an `AnchorSpec`; `input_size` is (height, width).

  Returns:
    float32 `[N, 4]`: (x_centre, y_centre, width, height), normalised by the input size.
  """
  height, width = spec.input_size
  out = []
  layer = 0
  while layer < len(spec.strides):
    # Layers sharing a stride share one feature map: collect all their anchor shapes.
    shapes = []
    last = layer
    while last < len(spec.strides) and spec.strides[last] == spec.strides[layer]:
      scale = _scale(spec, last)
      shapes += [(scale * math.sqrt(r), scale / math.sqrt(r)) for r in spec.aspect_ratios]
      if spec.interpolated_scale_aspect_ratio > 0:
        following = 1.0 if last == len(spec.strides) - 1 else _scale(spec, last + 1)
        interpolated = math.sqrt(scale * following)
        ratio = math.sqrt(spec.interpolated_scale_aspect_ratio)
        shapes.append((interpolated * ratio, interpolated / ratio))
      last += 1
    rows = math.ceil(height / spec.strides[layer])
    cols = math.ceil(width / spec.strides[layer])
    ys, xs = np.meshgrid((np.arange(rows) + spec.anchor_offset[1]) / rows,
                         (np.arange(cols) + spec.anchor_offset[0]) / cols, indexing="ij")
    sizes = np.ones((len(shapes), 2)) if spec.fixed_anchor_size else np.array(shapes)
    grid = np.stack([xs, ys], -1).reshape(-1, 1, 2)
    grid = np.broadcast_to(grid, (grid.shape[0], len(shapes), 2))
    sizes = np.broadcast_to(sizes, grid.shape)
    out.append(np.concatenate([grid, sizes], -1).reshape(-1, 4))
    layer = last
  return np.concatenate(out).astype(np.float32)

"""Geometry of the detectors: rotated rectangles, affine crops, box decoding, NMS, similarities.

Conventions. Image coordinates are continuous pixels: x right, y down, the pixel (row i,
column j) covers [j, j + 1) x [i, i + 1), so its centre is (j + 0.5, i + 0.5). A `Rect` is a
rotated rectangle in these coordinates: its centre, its (width, height) and its angle in
radians; the rectangle's own x axis points along (cos a, sin a) in the image (a positive
angle turns it clockwise on screen, MediaPipe's `NormalizedRect.rotation`).

A network input (a "tensor" of T_w x T_h pixels) is a crop of a `Rect`: the crop pixel
(u, v) (continuous, in [0, T_w] x [0, T_h]) shows the image point

    p = c + R(a) [ (u / T_w - 1/2) w,  (v / T_h - 1/2) h ]^T,   R(a) = [[cos a, -sin a],
                                                                         [sin a,  cos a]],

a 3x3 affine matrix (`crop_matrix`). MediaPipe's letterboxing (keep the aspect ratio, pad
with zeros) is the same thing with the rectangle enlarged to the tensor's aspect ratio first
(`pad_to_aspect`): mapping network outputs through the matrix both removes the letterbox
padding and projects out of the crop, in one step.
"""

import collections
import math

import numpy as np

Rect = collections.namedtuple("Rect", ["center", "size", "angle"])


def normalize_angle(angle):
  """An angle in radians wrapped to [-pi, pi)."""
  return (angle + math.pi) % (2 * math.pi) - math.pi


def image_rect(width, height):
  """The whole image as a `Rect`."""
  return Rect((width / 2, height / 2), (float(width), float(height)), 0.0)


def pad_to_aspect(rect, tensor_size):
  """Enlarges `rect` to the aspect ratio of `tensor_size` (width, height), keeping its centre
  (MediaPipe's `keep_aspect_ratio`: the extra area is padding)."""
  width, height = rect.size
  tensor_width, tensor_height = tensor_size
  if tensor_height / tensor_width > height / width:
    height = width * tensor_height / tensor_width
  else:
    width = height * tensor_width / tensor_height
  return Rect(rect.center, (width, height), rect.angle)


def crop_matrix(rect, tensor_size):
  """The affine map from crop pixels to image pixels (module doc).

  Args:
    rect: a `Rect` in image pixels.
    tensor_size: (width, height) of the crop in pixels.

  Returns:
    float64 `[3, 3]`.
  """
  cos, sin = math.cos(rect.angle), math.sin(rect.angle)
  sx, sy = rect.size[0] / tensor_size[0], rect.size[1] / tensor_size[1]
  linear = np.array([[cos, -sin], [sin, cos]]) @ np.diag([sx, sy])
  offset = np.asarray(rect.center, np.float64) - linear @ (np.asarray(tensor_size) / 2)
  matrix = np.eye(3)
  matrix[:2, :2] = linear
  matrix[:2, 2] = offset
  return matrix


def transform_points(matrix, points):
  """Applies a `[3, 3]` affine matrix to points `[..., 2]`."""
  points = np.asarray(points, np.float64)
  return points @ matrix[:2, :2].T + matrix[:2, 2]


def warp(image, matrix, size, border="zero"):
  """Bilinear crop: output pixel centres mapped by `matrix` into `image`.

  Args:
    image: `[H, W, C]` (or `[H, W]`) array.
    matrix: `[3, 3]` affine map from output pixels to image pixels (e.g. `crop_matrix`).
    size: (width, height) of the output.
    border: "zero" (outside pixels are 0) or "replicate" (edge pixels repeat).

  Returns:
    float32 `[height, width, C]` (or `[height, width]`).
  """
  image = np.asarray(image, np.float32)
  squeeze = image.ndim == 2
  if squeeze:
    image = image[..., None]
  width, height = size
  grid = np.stack(np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5), -1)
  source = transform_points(matrix, grid) - 0.5  # In pixel-index space.
  x0 = np.floor(source[..., 0]).astype(np.int64)
  y0 = np.floor(source[..., 1]).astype(np.int64)
  fx = (source[..., 0] - x0)[..., None].astype(np.float32)
  fy = (source[..., 1] - y0)[..., None].astype(np.float32)
  rows, cols = image.shape[:2]

  def tap(y, x):
    inside = ((x >= 0) & (x < cols) & (y >= 0) & (y < rows))[..., None]
    value = image[np.clip(y, 0, rows - 1), np.clip(x, 0, cols - 1)]
    return value if border == "replicate" else np.where(inside, value, 0.0)

  out = ((1 - fy) * ((1 - fx) * tap(y0, x0) + fx * tap(y0, x0 + 1)) +
         fy * ((1 - fx) * tap(y0 + 1, x0) + fx * tap(y0 + 1, x0 + 1)))
  return out[..., 0] if squeeze else out


def sigmoid(x):
  return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def decode_detections(raw_boxes, raw_scores, anchors, input_size, num_keypoints,
                      min_score=0.5, score_clip=100.0):
  """SSD outputs -> scored boxes and keypoints, normalised to the network input.

  MediaPipe's `TensorsToDetectionsCalculator` with `reverse_output_order` (values per anchor:
  x, y, w, h, then x, y per keypoint, in input pixels relative to the anchor), `x_scale` ...
  `h_scale` = the input size, and a sigmoid of the score logit clipped to +-`score_clip`.

  Args:
    raw_boxes: `[N, 4 + 2K]` regressor outputs.
    raw_scores: `[N]` or `[N, 1]` score logits.
    anchors: `[N, 4]` from `anchors.ssd_anchors`.
    input_size: (width, height) of the network input.
    num_keypoints: K.
    min_score: detections scoring less are dropped.

  Returns:
    (boxes `[M, 4]` as (xmin, ymin, xmax, ymax), keypoints `[M, K, 2]`, scores `[M]`), all
    normalised to [0, 1] by the input size; M <= N.
  """
  raw_boxes = np.asarray(raw_boxes, np.float64)
  scores = sigmoid(np.clip(np.reshape(raw_scores, [-1]), -score_clip, score_clip))
  anchors = np.asarray(anchors, np.float64)
  scale = np.asarray(input_size, np.float64)
  centre = raw_boxes[:, 0:2] / scale * anchors[:, 2:4] + anchors[:, 0:2]
  extent = raw_boxes[:, 2:4] / scale * anchors[:, 2:4]
  boxes = np.concatenate([centre - extent / 2, centre + extent / 2], -1)
  keypoints = raw_boxes[:, 4:4 + 2 * num_keypoints].reshape(len(raw_boxes), num_keypoints, 2)
  keypoints = keypoints / scale * anchors[:, None, 2:4] + anchors[:, None, 0:2]
  keep = (scores >= min_score) & np.all(extent >= 0, -1)
  return boxes[keep], keypoints[keep], scores[keep]


def iou(box, boxes):
  """Intersection over union of one box `[4]` with boxes `[M, 4]` (xmin, ymin, xmax, ymax)."""
  box, boxes = np.asarray(box), np.asarray(boxes)
  low = np.maximum(box[:2], boxes[:, :2])
  high = np.minimum(box[2:], boxes[:, 2:])
  inter = np.prod(np.clip(high - low, 0, None), -1)
  area = lambda b: np.prod(np.clip(b[..., 2:] - b[..., :2], 0, None), -1)
  union = area(box) + area(boxes) - inter
  return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(boxes, keypoints, scores, threshold=0.3, max_detections=None):
  """Weighted non-maximum suppression (MediaPipe's `WEIGHTED` algorithm, IoU overlap).

  The best remaining detection and every remaining one overlapping it by IoU > `threshold`
  form a cluster; the cluster becomes one detection whose box corners and keypoints are the
  score-weighted means of its members and whose score is the best one's.

  Returns:
    (boxes `[M, 4]`, keypoints `[M, K, 2]`, scores `[M]`), best first.
  """
  boxes = np.asarray(boxes, np.float64)
  keypoints = np.asarray(keypoints, np.float64)
  scores = np.asarray(scores, np.float64)
  order = np.argsort(-scores, kind="stable")
  out_boxes, out_keypoints, out_scores = [], [], []
  while order.size and (max_detections is None or len(out_scores) < max_detections):
    overlap = iou(boxes[order[0]], boxes[order]) > threshold
    overlap[0] = True
    members = order[overlap]
    weights = scores[members] / scores[members].sum()
    out_boxes.append(np.tensordot(weights, boxes[members], 1))
    out_keypoints.append(np.tensordot(weights, keypoints[members], 1))
    out_scores.append(scores[order[0]])
    order = order[~overlap]
  num_keypoints = keypoints.shape[1] if keypoints.ndim == 3 else 0
  if not out_scores:
    return np.zeros((0, 4)), np.zeros((0, num_keypoints, 2)), np.zeros((0,))
  return np.stack(out_boxes), np.stack(out_keypoints), np.array(out_scores)


def rect_from_alignment_points(center, scale_point, target_angle, scale=1.0):
  """A square `Rect` from two alignment keypoints (MediaPipe's `AlignmentPointsRectsCalculator`
  followed by `RectTransformationCalculator` with `square_long` and `scale`).

  The side is twice the distance between the points, times `scale`; the angle turns the
  vector `center -> scale_point` to `target_angle` (radians, measured with y up: pi/2 means
  the vector points up the image when the person is upright).
  """
  center = np.asarray(center, np.float64)
  scale_point = np.asarray(scale_point, np.float64)
  delta = scale_point - center
  side = 2.0 * float(np.hypot(*delta)) * scale
  angle = normalize_angle(target_angle - math.atan2(-delta[1], delta[0]))
  return Rect(tuple(center), (side, side), angle)


def similarity_matrix(source, target):
  """The similarity (rotation, uniform scale, translation) mapping two points onto two others.

  Args:
    source: `[2, 2]` points (x, y).
    target: `[2, 2]` where they go.

  Returns:
    float64 `[3, 3]` affine matrix M with M (source[i], 1) = (target[i], 1).

  Raises:
    ValueError: the two source points coincide.
  """
  # In complex numbers: z -> a z + b, with a = (t1 - t0) / (s1 - s0).
  s = np.asarray(source, np.float64) @ np.array([1, 1j])
  t = np.asarray(target, np.float64) @ np.array([1, 1j])
  if abs(s[1] - s[0]) < 1e-9:
    raise ValueError("similarity_matrix: the two source points coincide")
  a = (t[1] - t[0]) / (s[1] - s[0])
  b = t[0] - a * s[0]
  return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag], [0.0, 0.0, 1.0]])

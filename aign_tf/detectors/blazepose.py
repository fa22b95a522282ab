"""BlazePose (full): people -> 33 body landmarks in image pixels -> the pose task's H36M-17.

Pipeline, after MediaPipe's `pose_detection_cpu.pbtxt` and `pose_landmark/*.pbtxt`:

1. Detection: the image letterboxed to 224x224 (aspect kept, zero padding), values in
   [-1, 1] -> `pose_detection.tflite` (`[1, 2254, 12]` regressors, `[1, 2254, 1]` logits) ->
   SSD decoding on 2254 anchors (`anchors.BLAZEPOSE`; box + 4 keypoints: hip centre, a point
   whose distance from it is the radius of a circle around the whole body, shoulder centre,
   a point for the upper body's circle) -> sigmoid scores >= 0.5 -> weighted NMS at IoU 0.3.
2. Region of interest: a square centred on the hip centre, side 2 x radius x 1.25, turned
   so the hip centre -> body-circle point vector points up (`rect_from_alignment_points`
   with a target angle of 90 degrees).
3. Landmarks: that square cut to 256x256 (edge pixels repeated), values in [0, 1] ->
   `pose_landmark_full.tflite`: `[1, 195]` = 39 x (x, y, z, visibility, presence) in crop
   pixels (33 landmarks + 2 auxiliary ones for the next frame's region + 4 unused), a pose
   presence score `[1, 1]` (a probability; >= 0.5 means a person is there), heatmaps
   `[1, 64, 64, 39]` that refine x, y (score-weighted mean over a 7x7 window of sigmoid
   heatmap values, when its maximum is >= 0.5), world landmarks `[1, 117]` (metres, hip
   centred) and a segmentation mask (unused). Visibility and presence are sigmoids of
   their logits. Crop pixels go back to image pixels through the crop's affine matrix.
4. In a video (`PoseTracker`), the next frame's region comes from the auxiliary landmarks
   (hip centre, body-circle point) as in step 2; detection runs again when the presence
   score falls below 0.5.

Landmark order (`LANDMARKS`; "left"/"right" are the person's): MediaPipe's 33-point
topology. `to_h36m17` maps them to `aign_tf.data.mocap.skeleton.JOINTS` through the COCO-17
points BlazePose also has (`COCO17_FROM_BLAZEPOSE`, the same anatomical points: nose, eyes,
ears, shoulders, elbows, wrists, hips, knees, ankles) and then the project's one COCO-17
table (`skeleton.MAPPINGS["coco17"]`):
  pelvis        mid-hips (23, 24)
  r/l hip, knee, ankle, shoulder, elbow, wrist   the same-named landmark
  thorax        mid-shoulders (11, 12)
  spine         mean of hips and shoulders (between pelvis and thorax)
  nose          the nose (0) (Human3.6M's "Neck/Nose" joint sits there)
  head (top)    ears' midpoint (7, 8) pushed away from the shoulders' midpoint by half
                their distance: 1.5 * mid-ears - 0.5 * mid-shoulders (approximation)
The confidence of a mapped joint is the smallest visibility among the landmarks it uses.
"""

import collections
import math

import numpy as np

from aign_tf import errors
from aign_tf.core import skeleton
from aign_tf.detectors import anchors as anchors_lib
from aign_tf.detectors import geometry
from aign_tf.detectors import images
from aign_tf.detectors import models

LANDMARKS = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
    "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb",
    "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index")
NUM_LANDMARKS = len(LANDMARKS)
# Lines of MediaPipe's pose topology, for drawing.
CONNECTIONS = ((11, 12), (11, 13), (13, 15), (12, 14), (14, 16), (11, 23), (12, 24),
               (23, 24), (23, 25), (25, 27), (24, 26), (26, 28), (27, 29), (29, 31),
               (27, 31), (28, 30), (30, 32), (28, 32), (0, 2), (0, 5), (2, 7), (5, 8),
               (9, 10))
# COCO-17 order (skeleton.COCO17_NAMES) -> BlazePose landmark index.
COCO17_FROM_BLAZEPOSE = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)

DETECTION_SIZE = (224, 224)
LANDMARK_SIZE = (256, 256)
ROI_SCALE = 1.25
ROI_ANGLE = math.pi / 2
NUM_RAW_LANDMARKS = 39
HEATMAP_KERNEL = 7

Detection = collections.namedtuple("Detection", ["box", "keypoints", "score"])
Detection.__doc__ = """A person detection in image pixels: `box` `[4]` (xmin, ymin, xmax, ymax),
`keypoints` `[4, 2]` (hip centre, body-circle point, shoulder centre, upper-body point),
`score`."""

Pose = collections.namedtuple(
    "Pose", ["landmarks", "z", "visibility", "presence", "world", "score", "roi",
             "auxiliary"])
Pose.__doc__ = """33 landmarks of one person: `landmarks` `[33, 2]` image pixels (x, y);
`z` `[33]` depth relative to the hips in image-pixel units (smaller = nearer); `visibility`
and `presence` `[33]` in [0, 1]; `world` `[33, 3]` MediaPipe's metric landmarks (metres, hip
centred, image axes); `score` the pose presence score; `roi` the `geometry.Rect` the
landmarks were read from; `auxiliary` `[2, 2]` image pixels of the points that place the
next frame's region."""


def roi_from_points(center, scale_point):
  """The landmark network's region from a hip centre and a body-circle point (pixels)."""
  return geometry.rect_from_alignment_points(center, scale_point, ROI_ANGLE, ROI_SCALE)


def refine_with_heatmaps(points, heatmaps, kernel=HEATMAP_KERNEL, min_confidence=0.5):
  """MediaPipe's `RefineLandmarksFromHeatmapCalculator` for points in [0, 1] crop units.

  Args:
    points: `[L, 2]` normalised (x, y).
    heatmaps: `[h, w, L]` logits.

  Returns:
    `[L, 2]`: each point moved to the sigmoid-weighted mean cell position of the window
    around it, where that window's largest sigmoid is >= `min_confidence`.
  """
  rows, cols = heatmaps.shape[:2]
  out = np.array(points, np.float64)
  half = (kernel - 1) // 2
  for i, (x, y) in enumerate(points):
    col, row = int(x * cols), int(y * rows)
    if not (0 <= col < cols and 0 <= row < rows):
      continue
    window = geometry.sigmoid(heatmaps[max(0, row - half):row + half + 1,
                                       max(0, col - half):col + half + 1, i])
    total = window.sum()
    if window.max() >= min_confidence and total > 0:
      ys, xs = np.mgrid[max(0, row - half):min(rows, row + half + 1),
                        max(0, col - half):min(cols, col + half + 1)]
      out[i] = ((xs * window).sum() / total / cols, (ys * window).sum() / total / rows)
  return out


class PoseDetector:
  """BlazePose on single images: `PoseDetector()(image) -> [Pose, ...]`, best first.

  Args:
    model_dir: folder with the .tflite files (default: the fetched cache, fetched on first
      use).
    min_detection_score: person detection threshold (MediaPipe's 0.5).
    min_presence: pose presence threshold of the landmark network (MediaPipe's 0.5).
    max_people: landmarks are computed for at most this many detections (MediaPipe's pose
      solution: 1).
    num_threads: LiteRT threads.
  """

  def __init__(self, model_dir=None, min_detection_score=0.5, min_presence=0.5,
               max_people=1, num_threads=None):
    self.min_detection_score = min_detection_score
    self.min_presence = min_presence
    self.max_people = max_people
    self._detector = models.interpreter("pose_detection", model_dir, num_threads)
    outputs = {tuple(d["shape"][-1:]): d["index"] for d in self._detector.get_output_details()}
    self._det_boxes, self._det_scores = outputs[(12,)], outputs[(1,)]
    self._anchors = anchors_lib.ssd_anchors(anchors_lib.BLAZEPOSE)
    self._landmarker = models.interpreter("pose_landmark_full", model_dir, num_threads)
    by_shape = {tuple(d["shape"][1:]): d["index"]
                for d in self._landmarker.get_output_details()}
    self._lm_points = by_shape[(NUM_RAW_LANDMARKS * 5,)]
    self._lm_flag = by_shape[(1,)]
    self._lm_heatmap = by_shape[(64, 64, NUM_RAW_LANDMARKS)]
    self._lm_world = by_shape[(NUM_RAW_LANDMARKS * 3,)]

  def detect(self, image):
    """Person detections of an `[H, W, 3]` uint8 image, best first (`Detection` list)."""
    image = images.as_rgb(image)
    rect = geometry.pad_to_aspect(geometry.image_rect(image.shape[1], image.shape[0]),
                                  DETECTION_SIZE)
    matrix = geometry.crop_matrix(rect, DETECTION_SIZE)
    tensor = geometry.warp(image, matrix, DETECTION_SIZE, border="zero") / 127.5 - 1.0
    runner = self._detector
    runner.set_tensor(runner.get_input_details()[0]["index"], tensor[None].astype(np.float32))
    runner.invoke()
    boxes, keypoints, scores = geometry.decode_detections(
        runner.get_tensor(self._det_boxes)[0], runner.get_tensor(self._det_scores)[0],
        self._anchors, DETECTION_SIZE, 4, self.min_detection_score)
    boxes, keypoints, scores = geometry.weighted_nms(boxes, keypoints, scores, 0.3)
    size = np.asarray(DETECTION_SIZE, np.float64)
    return [Detection(geometry.transform_points(matrix, b.reshape(2, 2) * size).reshape(4),
                      geometry.transform_points(matrix, k * size), float(s))
            for b, k, s in zip(boxes, keypoints, scores)]

  def landmarks(self, image, roi):
    """The 33 landmarks read from region `roi` (a `geometry.Rect`); a `Pose` whose `score`
    says whether a person is there."""
    image = images.as_rgb(image)
    roi = geometry.pad_to_aspect(roi, LANDMARK_SIZE)
    matrix = geometry.crop_matrix(roi, LANDMARK_SIZE)
    tensor = geometry.warp(image, matrix, LANDMARK_SIZE, border="replicate") / 255.0
    runner = self._landmarker
    runner.set_tensor(runner.get_input_details()[0]["index"], tensor[None].astype(np.float32))
    runner.invoke()
    raw = runner.get_tensor(self._lm_points).reshape(NUM_RAW_LANDMARKS, 5).astype(np.float64)
    size = np.asarray(LANDMARK_SIZE, np.float64)
    points = refine_with_heatmaps(raw[:, :2] / size, runner.get_tensor(self._lm_heatmap)[0])
    pixels = geometry.transform_points(matrix, points * size)
    world = runner.get_tensor(self._lm_world).reshape(NUM_RAW_LANDMARKS, 3)[:NUM_LANDMARKS]
    # World landmarks are in the crop's axes: turn x, y by the region's angle.
    cos, sin = math.cos(roi.angle), math.sin(roi.angle)
    world = np.concatenate([world[:, :2] @ np.array([[cos, sin], [-sin, cos]]), world[:, 2:]],
                           -1)
    return Pose(landmarks=pixels[:NUM_LANDMARKS],
                z=raw[:NUM_LANDMARKS, 2] * roi.size[0] / size[0],
                visibility=geometry.sigmoid(raw[:NUM_LANDMARKS, 3]),
                presence=geometry.sigmoid(raw[:NUM_LANDMARKS, 4]),
                world=world, score=float(runner.get_tensor(self._lm_flag).reshape(-1)[0]),
                roi=roi, auxiliary=pixels[NUM_LANDMARKS:NUM_LANDMARKS + 2])

  def __call__(self, image):
    """Poses of the people in an image (at most `max_people`), best detection first.

    Returns:
      list of `Pose` whose presence score is >= `min_presence` (empty when nobody is found).
    """
    image = images.as_rgb(image)
    poses = []
    for detection in self.detect(image)[:self.max_people]:
      pose = self.landmarks(image, roi_from_points(*detection.keypoints[:2]))
      if pose.score >= self.min_presence:
        poses.append(pose)
    return poses


class PoseTracker:
  """One person through a video: the region follows the last frame's landmarks.

  `tracker(frame) -> Pose or None`. Detection runs on the first frame and whenever the
  landmark network's presence score drops below the detector's `min_presence`.
  """

  def __init__(self, detector=None):
    self.detector = detector or PoseDetector()
    self._roi = None

  def __call__(self, image):
    if self._roi is not None:
      pose = self.detector.landmarks(image, self._roi)
      if pose.score < self.detector.min_presence:
        pose = None
    else:
      pose = None
    if pose is None:
      poses = self.detector(image)
      pose = poses[0] if poses else None
    self._roi = roi_from_points(*pose.auxiliary) if pose is not None else None
    return pose


def detect_pose(image, detector=None, where="image"):
  """The best `Pose` of an image; a DataError naming `where` when there is no person."""
  poses = (detector or PoseDetector())(image)
  if not poses:
    raise errors.DataError(f"{where}: no person found")
  return poses[0]


def to_h36m17(pose):
  """A `Pose` (or `[..., 33, 2]` landmarks with `[..., 33]` visibility as a tuple) in the
  pose task's layout (module doc).

  Returns:
    (pixels `[17, 2]`, confidence `[17]`) in `skeleton.JOINTS` order.
  """
  if isinstance(pose, Pose):
    points, visibility = pose.landmarks, pose.visibility
  else:
    points, visibility = pose
  index = list(COCO17_FROM_BLAZEPOSE)
  points = np.asarray(points, np.float64)[..., index, :]
  visibility = np.asarray(visibility, np.float64)[..., index]
  pixels, confidence = skeleton.map_array(points, "coco17", visibility, where="BlazePose")
  return pixels.astype(np.float64), confidence.astype(np.float64)

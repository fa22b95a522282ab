"""Face crops from video files with OpenCV's bundled Haar cascade (optional dependency).

For each kept frame the largest frontal face the cascade finds is cut as a square around it,
placed so that the crop roughly follows the aligned-face geometry of `faces_synthetic.GEOMETRY`
(the detector's box centre, about the nose bridge, at 56% of the crop height; crop side =
`margin` x box side), padded by edge replication where it leaves the frame, and resized.
Frames without a detection are skipped and counted. Names are `<path>#<frame index>`.

Frames are decoded by `aign_tf.core.video` (PyAV, rotation metadata applied), the reader
every path shares; OpenCV finds the faces. Both are imported lazily: `pip install -e
".[faces]"` (OpenCV 4: OpenCV 5 wheels no longer ship `CascadeClassifier`).
"""

import os

import numpy as np

from aign_tf import errors
from aign_tf.core import video

CASCADE = "haarcascade_frontalface_default.xml"


def require_cv2():
  """Returns the cv2 module or raises a clear error."""
  try:
    import cv2  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise errors.ConfigError("reading face videos needs OpenCV: pip install "
                             "'opencv-python-headless>=4.8,<5'") from e
  if not hasattr(cv2, "CascadeClassifier"):
    raise errors.ConfigError(f"OpenCV {cv2.__version__} has no CascadeClassifier (OpenCV 5 "
                             "removed it): pip install 'opencv-python-headless>=4.8,<5'")
  return cv2


def crop_box(box, margin=1.6, centre_y=0.56):
  """(x, y, w, h) detector box -> (left, top, side) of the square crop."""
  x, y, w, h = box
  side = int(round(max(w, h) * margin))
  cx, cy = x + w / 2.0, y + h / 2.0
  return int(round(cx - side / 2.0)), int(round(cy - centre_y * side)), side


def cut(frame, left, top, side):
  """A square `side` crop of `frame` `[H, W, 3]`, edge-replicated where out of bounds."""
  height, width = frame.shape[:2]
  rows = np.clip(np.arange(top, top + side), 0, height - 1)
  cols = np.clip(np.arange(left, left + side), 0, width - 1)
  return frame[rows][:, cols]


def face_crops(path, resolution, start=0, stop=None, every=1, margin=1.6, min_face=40):
  """Detects and crops faces from a video.

  Args:
    path: a video file FFmpeg can decode (mp4, avi, ...).
    resolution: crop side R after resizing.
    start, stop: frame range [start, stop) (stop None: to the end).
    every: keep every n-th frame of the range.
    margin: crop side / detector box side.
    min_face: smallest face side in pixels the detector considers.

  Returns:
    (uint8 `[N, R, R, 3]` RGB crops, list of N names `<path>#<frame>`, frames skipped).

  Raises:
    errors.ConfigError: OpenCV or PyAV is not installed.
    errors.DataError: the file cannot be decoded or yields no face.
  """
  cv2 = require_cv2()
  video.require_av()
  cascade = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, CASCADE))
  count = None if stop is None else len(range(start, stop, every))
  frames = () if count == 0 else video.iter_video(path, every, count, start)
  crops, names, skipped = [], [], 0
  for index, frame in frames:
    grey = cv2.equalizeHist(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))
    boxes = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5,
                                     minSize=(min_face, min_face))
    if len(boxes) == 0:
      skipped += 1
      continue
    box = max(boxes, key=lambda b: b[2] * b[3])
    crop = cut(frame, *crop_box(box, margin))
    crops.append(cv2.resize(crop, (resolution, resolution), interpolation=cv2.INTER_AREA))
    names.append(f"{os.path.abspath(path)}#{index}")
  if not crops:
    raise errors.DataError(f"{path}: no face found in frames [{start}, {stop}) "
                           f"({skipped} frames searched)")
  return np.stack(crops).astype(np.uint8), names, skipped


def face_set(spec, resolution, seed):
  """`{"source": "video", "paths": [...], "start", "stop", "every", "count"}` ->
  `faces.FaceSet`."""
  from aign_tf.data import faces  # pylint: disable=g-import-not-at-top
  paths = spec["paths"]
  if isinstance(paths, str):
    paths = [paths]
  images, names = [], []
  for path in paths:
    crops, crop_names, _ = face_crops(path, resolution, spec.get("start", 0),
                                      spec.get("stop"), spec.get("every", 1),
                                      spec.get("margin", 1.6))
    images.append(crops)
    names += crop_names
  images = np.concatenate(images)
  chosen = faces.choose(spec.get("count"), len(images), spec.get("seed", seed),
                        f"video spec {paths}")
  return faces.FaceSet(images[chosen], [names[i] for i in chosen])

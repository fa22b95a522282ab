"""A video, a frame folder or a photo -> per-frame 2D keypoints (H36M-17) and drawn frames.

`run` writes into `output_dir`:
  keypoints/<frame>.json  one file per frame with a person, in the pose task's keypoint JSON
                          format (`aign_tf.data.mocap.keypoints2d`): {"layout": "h36m17",
                          "intrinsics": {fx, fy, cx, cy}, "image_size": [W, H],
                          "people": [{"keypoints": [[u, v, c] x 17], "score": s}]}
  keypoints_2d.json       all frames in one file of the same format, one "people" entry per
                          frame (each with its "frame" name), so `tools/predict.py
                          --keypoints=` lifts the whole clip in one request
  frames/<frame>.png      the frame with the 2D skeleton drawn on it
  skeleton.gif            the drawn frames as an animation (Pillow; larger side <= 480 px)
  joints_3d.json          with a server: the pose model's outputs for every frame with a
                          person ({"frames": [...], "joints_3d": [N, 17, 3], ...,
                          "lifter": {"kind", "window"}}); with `smooth`, smoothed over
                          time ("smoothing" says how) and the lifter's unfiltered outputs
                          kept in joints_3d_per_frame.json
  summary.json            frames read, frames with a person, the detector, the camera and
                          (with a server) the lifter

Keypoints are BlazePose's (`blazepose.PoseTracker`: one person, the region follows the last
frame) mapped to H36M-17 (`blazepose.to_h36m17`); `c` is the joint's visibility. Pixel
coordinates (u, v) have pixel centres at integers, as `aign_tf.data.frames` uses them.

Intrinsics are a guess from the horizontal field of view (`fov_degrees`, default 60: a
phone's main camera in landscape is ~60-70 degrees, a webcam ~60-78): square pixels, the
principal point at the image centre, f = (W / 2) / tan(fov / 2). The 3D model sees
normalised coordinates ((u - cx) / f, (v - cy) / f), so a wrong field of view mostly rescales
the estimated distance to the camera.

Lifters. The served model's `serving_default` says which kind it is, by the shape of its
`keypoints_2d` input (`lifter_of`): `[B, 17, 2]` is a per-frame lifter (`tasks.pose`), each
frame lifted alone; `[B, W, 17, 2]` a temporal lifter (`tasks.pose_temporal`), which lifts
frame t from the W frames read centred on it (frames t - (W - 1) / 2 ... t + (W - 1) / 2;
with `step` > 1 these are every step-th frame of the video). Its windows are cut within runs
of consecutive frames read with a person, the run's first or last frame repeated past its
ends (`aign_tf.data.pose.clip_windows`, the edge padding the task trains and evaluates
with): a frame without a person gets no 3D output with either lifter, and a temporal
window never reaches across one.

Smoothing (`smooth="savgol"` or `"one_euro"`, `aign_tf.data.mocap.temporal`): per-frame
lifting jitters because the detector's noise differs from frame to frame. The 3D outputs
("joints_3d", "camera_translation", "root_depth") are filtered over the same runs of
consecutive frames with a person. Savitzky-Golay is for whole videos (no lag; its window,
tuned at 15 fps, is scaled to the video's frame rate); One-Euro is causal, what a live
stream could use. The filter also applies after a temporal lifter, whose outputs still
jitter (nothing in its objective asks for smooth motion): experiments/pose_temporal.py
measured the temporal lifter followed by Savitzky-Golay as the most accurate and least
jittery of its rows. Smoothing needs a lifter (a server); without one it is an error.

Nothing is half-written: everything goes to a sibling folder that replaces `output_dir` at
the end; on an error it is removed and `output_dir` is left as it was.
"""

import json
import math
import os

import numpy as np
from PIL import Image
from PIL import ImageDraw

from aign_tf import errors
from aign_tf.core import files
from aign_tf.core import skeleton
from aign_tf.core import video
from aign_tf.data.mocap import temporal
from aign_tf.detectors import blazepose
from aign_tf.detectors import images

DEFAULT_FOV_DEGREES = 60.0
DEFAULT_GIF_FPS = 10.0
DEFAULT_SMOOTH_FPS = 30.0
# The kinds of pose lifter (`lifter_of`).
PER_FRAME, TEMPORAL = "per_frame", "temporal"
GIF_MAX_SIDE = 480
# Drawing colours: the person's left side, right side, the middle.
LEFT, RIGHT, MIDDLE = (40, 120, 255), (255, 70, 40), (40, 220, 90)


def fov_intrinsics(width, height, fov_degrees=DEFAULT_FOV_DEGREES):
  """{"fx", "fy", "cx", "cy"} of an ideal camera with horizontal field of view `fov_degrees`
  (pixel centres at integers, as `aign_tf.data.frames.fov_intrinsics`)."""
  if not 0.0 < fov_degrees < 180.0:
    raise errors.ConfigError(f"fov_degrees must be in (0, 180), got {fov_degrees}")
  focal = (width / 2.0) / math.tan(math.radians(fov_degrees) / 2.0)
  return {"fx": focal, "fy": focal, "cx": (width - 1) / 2.0, "cy": (height - 1) / 2.0}


def _side(joint):
  name = skeleton.JOINTS[joint]
  return LEFT if name.startswith("l_") else RIGHT if name.startswith("r_") else MIDDLE


def draw_skeleton(image, pixels, confidence=None, min_confidence=0.0, width=None):
  """Draws H36M-17 bones and joints on a copy of `image`.

  Args:
    image: `[H, W, 3]` uint8.
    pixels: `[17, 2]` (x, y) with pixel centres at integers.
    confidence: `[17]`; bones with an end below `min_confidence` are dashed-free thin lines.
    width: line width (default: ~1/150 of the image's larger side).

  Returns:
    `[H, W, 3]` uint8.
  """
  picture = Image.fromarray(images.as_rgb(image))
  draw = ImageDraw.Draw(picture)
  width = width or max(2, round(max(picture.size) / 150))
  pixels = np.asarray(pixels, np.float64) + 0.5  # Pillow draws in continuous coordinates.
  confidence = np.ones(len(pixels)) if confidence is None else np.asarray(confidence)
  for parent, child in skeleton.BONES:
    sure = min(confidence[parent], confidence[child]) >= min_confidence
    draw.line([tuple(pixels[parent]), tuple(pixels[child])], fill=_side(child),
              width=width if sure else max(1, width // 3))
  for joint, (x, y) in enumerate(pixels):
    r = width * 1.2
    draw.ellipse([x - r, y - r, x + r, y + r], fill=_side(joint), outline=(255, 255, 255))
  return np.asarray(picture)


def frame_keypoints(pixels, confidence, score, intrinsics, size):
  """One frame's keypoint JSON dict (module doc)."""
  rows = [[float(u), float(v), float(c)] for (u, v), c in zip(pixels, confidence)]
  return {"layout": "h36m17", "intrinsics": intrinsics, "image_size": list(size),
          "people": [{"keypoints": rows, "score": float(score)}]}


def _write_json(path, value):
  with open(path, "w") as f:
    json.dump(value, f, indent=1)
    f.write("\n")


def _frames(path, step, max_frames):
  """(frames iterator, frames per second or None) for a video, a folder or one photo."""
  fps = video.video_info(path).fps if video.kind(path) == video.VIDEO else None
  return video.iter_frames(path, step, max_frames), fps


def _gif_frame(path):
  """A drawn frame for the GIF, shrunk so its larger side is at most `GIF_MAX_SIDE`."""
  with Image.open(path) as picture:
    picture.load()
    scale = GIF_MAX_SIDE / max(picture.size)
    if scale < 1:
      picture = picture.resize((max(1, round(picture.width * scale)),
                                max(1, round(picture.height * scale))), Image.BILINEAR)
    return picture.copy()


def lifter_of(signature, model):
  """The kind of pose lifter a signature is, from its `keypoints_2d` input (module doc).

  Args:
    signature: {"inputs": {name: (dtype, shape)}, ...}, as `client.Client.signatures`
      gives it (shapes as lists, None for any size).
    model: the model's name, for the error.

  Returns:
    {"kind": "per_frame", "window": 1} or {"kind": "temporal", "window": W}.

  Raises:
    errors.ConfigError: no `keypoints_2d` input, or one of another shape (not a pose model).
  """
  shape = signature["inputs"].get("keypoints_2d", (None, None))[1]
  joints = [skeleton.NUM_JOINTS, 2]
  if shape is not None and len(shape) == 3 and shape[1:] == joints:
    return {"kind": PER_FRAME, "window": 1}
  if (shape is not None and len(shape) == 4 and shape[2:] == joints
      and shape[1] is not None and shape[1] % 2 == 1):
    return {"kind": TEMPORAL, "window": int(shape[1])}
  raise errors.ConfigError(
      f"model {model!r} is not a pose lifter: its serving_default takes "
      f"{_describe_inputs(signature['inputs'])}, not keypoints_2d [B, 17, 2] (per frame) or "
      "[B, W, 17, 2] with W odd (a temporal lifter's windows)")


def _describe_inputs(inputs):
  return ", ".join(f"{name} {['B' if d is None else d for d in shape]}"
                   for name, (_, shape) in sorted(inputs.items())) or "no inputs"


def person_runs(names, read):
  """Segment ids `[len(names)]`: runs of consecutive frames read, a frame missing from
  `names` (no person) ending a run.

  Args:
    names: the frames with a person, in order (a subsequence of `read`).
    read: every frame read, in order.
  """
  position = {name: i for i, name in enumerate(read)}
  index = np.array([position[n] for n in names], np.int64)
  if not len(index):
    return index
  return np.cumsum(np.concatenate([[0], np.diff(index) != 1])).astype(np.int64)


def served_lifter(server, model):
  """Asks the server which kind of pose lifter `model` is (`lifter_of`), before any frame
  is read, so a wrong model or an unreachable server fails at once.

  Returns:
    (a `client.Client` for `server`, the lifter dict).

  Raises:
    errors.ConfigError: the model has no serving_default or is not a pose lifter.
    client.ServingError: the server cannot be reached or does not know the model.
  """
  from aign_tf.serving import client as client_lib  # pylint: disable=g-import-not-at-top
  client = client_lib.Client(server)
  signatures = client.signatures(model)
  if "serving_default" not in signatures:
    raise errors.ConfigError(f"model {model!r} has no serving_default signature")
  return client, lifter_of(signatures["serving_default"], model)


def lift(client, model, lifter, keypoints_path, output_path, names, read):
  """Lifts the clip's keypoints with the served pose model (module doc).

  A per-frame lifter gets every frame's keypoints; a temporal lifter a window per frame,
  cut within runs of consecutive frames with a person. The outputs are written with the
  frame names and the lifter to `output_path` (atomically).

  Args:
    client: a `client.Client` of the server.
    model: the model's name on it.
    lifter: its kind and window (`served_lifter`).
    keypoints_path: `keypoints_2d.json` (one person per frame of `names`, in order).
    output_path: the JSON to write.
    names: the frames with a person, in order.
    read: every frame read, in order.

  Returns:
    (outputs: dict name -> `[N, ...]` arrays, the N frames lifted: those of `names` whose
    pelvis was seen, with BlazePose all of them).

  Raises:
    client.ServingError: the server refused a request or cannot be reached.
  """
  from aign_tf.data import pose as pose_data  # pylint: disable=g-import-not-at-top
  from aign_tf.data.mocap import keypoints2d  # pylint: disable=g-import-not-at-top
  from aign_tf.serving import client as client_lib  # pylint: disable=g-import-not-at-top
  keypoints = keypoints2d.read_keypoints_json(keypoints_path)
  # A person whose pelvis is unseen has no row: treated like a frame without a person.
  lifted = [name for name, person in zip(names, keypoints["people"])
            if person.get("row") is not None]
  inputs = {"keypoints_2d": keypoints["keypoints_2d"]}
  if lifter["kind"] == TEMPORAL:
    inputs["keypoints_2d"] = pose_data.clip_windows(
        keypoints["keypoints_2d"], person_runs(lifted, read), lifter["window"])
  outputs = client_lib.predict_keypoints(
      client, model, inputs, output_path,
      to_json=lambda outputs: {"frames": lifted, "layout": "h36m17", "lifter": lifter,
                               **client_lib.jsonable(outputs)})
  return outputs, lifted


def smooth_outputs(outputs, names, read, method, fps):
  """Filters the lifted outputs over time (module doc).

  Args:
    outputs: dict name -> `[N, ...]` arrays, one row per frame in `names`.
    names: the frames with a person, in order (a subsequence of `read`).
    read: every frame read, in order.
    method: "savgol" or "one_euro".
    fps: frame rate of the frames read.

  Returns:
    (smoothed outputs, a dict describing the filter).
  """
  segment = person_runs(names, read)
  if method == temporal.SAVGOL:
    params = {"window": temporal.savgol_window(fps),
              "polyorder": temporal.SAVGOL_POLYORDER}
  elif method == temporal.ONE_EURO:
    params = {"fps": fps, "min_cutoff": temporal.ONE_EURO_MIN_CUTOFF,
              "beta": temporal.ONE_EURO_BETA, "d_cutoff": temporal.ONE_EURO_D_CUTOFF}
  else:
    raise errors.ConfigError(f"smooth must be one of {temporal.METHODS}, got {method!r}")
  smoothed = dict(outputs)
  for name in ("joints_3d", "camera_translation"):
    if name in outputs:
      values = np.asarray(outputs[name], np.float64)
      smoothed[name] = temporal.smooth_segments(values, segment, method, **params).astype(
          np.float32)
  if "root_depth" in outputs and "camera_translation" in outputs:
    smoothed["root_depth"] = smoothed["camera_translation"][:, 2]
  return smoothed, {"method": method, **params}


def run(input_path, output_dir, fov_degrees=DEFAULT_FOV_DEGREES, step=1, max_frames=None,
        server=None, model="pose", gif=True, gif_fps=None, detector=None, smooth=None,
        smooth_fps=None):
  """Detects one person's 2D pose in every frame and writes the files of the module doc.

  Args:
    input_path: a video file, a folder of frames (in natural name order, frame2 before
      frame10: `aign_tf.core.video`) or one photo.
    output_dir: where the results go (replaced as a whole at the end).
    fov_degrees: horizontal field of view for the intrinsics.
    step: use every `step`-th frame.
    max_frames: stop after this many frames.
    server: URL of a TF-Serving-compatible server with a pose model, to lift to 3D: a
      per-frame or a temporal lifter, told apart by its signature (module doc).
    model: the model's name on that server.
    gif: also write `skeleton.gif`.
    gif_fps: its frame rate (default: the video's divided by `step`, else 10).
    detector: a `blazepose.PoseDetector` (default: a new one).
    smooth: None, "savgol" or "one_euro": filter the 3D outputs over time (module doc;
      needs `server`).
    smooth_fps: the frames' rate for smoothing (default: the video's / step, else 30).

  Returns:
    The summary dict (also written as summary.json).

  Raises:
    errors.DataError: unreadable input, or no person in any frame (names the input).
    errors.ConfigError: a video without PyAV, bad arguments, a served model that is not
      a pose lifter.
    client.ServingError: the server cannot be reached or refuses a request.
  """
  if step < 1:
    raise errors.ConfigError(f"step must be >= 1, got {step}")
  if smooth is not None and smooth not in temporal.METHODS:
    raise errors.ConfigError(f"smooth must be one of {temporal.METHODS}, got {smooth!r}")
  if smooth is not None and not server:
    raise errors.ConfigError(f"smooth={smooth!r} filters the lifted 3D poses: it needs a "
                             "server with the pose model (--server)")
  frames, fps = _frames(input_path, step, max_frames)
  served = served_lifter(server, model) if server else None
  with files.staged_folder(output_dir) as staging:
    summary = _process(frames, staging, input_path, fov_degrees, detector)
    summary["fov_degrees"] = fov_degrees
    if gif:
      rate = gif_fps or (fps / step if fps else DEFAULT_GIF_FPS)
      pictures = [_gif_frame(os.path.join(staging, "frames", f"{n}.png"))
                  for n in summary["frames_read"]]
      pictures[0].save(os.path.join(staging, "skeleton.gif"), save_all=True,
                       append_images=pictures[1:], duration=round(1000 / rate), loop=0)
    if served:
      rate = smooth_fps or (fps / step if fps else DEFAULT_SMOOTH_FPS)
      summary.update(_lift_clip(staging, summary, served, model, smooth, rate))
    _write_json(os.path.join(staging, "summary.json"), summary)
  return summary


def _lift_clip(staging, summary, served, model, smooth, smooth_fps):
  """Writes joints_3d.json (and, smoothed, joints_3d_per_frame.json) into `staging`;
  returns the summary's entries about them."""
  client, lifter = served
  raw = "joints_3d_per_frame.json" if smooth else "joints_3d.json"
  outputs, lifted = lift(client, model, lifter, os.path.join(staging, "keypoints_2d.json"),
                         os.path.join(staging, raw), summary["frames_with_person"],
                         summary["frames_read"])
  entries = {"lifter": lifter, "joints_3d": "joints_3d.json"}
  if smooth:
    outputs, how = smooth_outputs(outputs, lifted, summary["frames_read"], smooth,
                                  smooth_fps)
    _write_json(os.path.join(staging, "joints_3d.json"),
                {"frames": lifted, "layout": "h36m17", "lifter": lifter, "smoothing": how,
                 **{k: np.asarray(v).tolist() for k, v in outputs.items()}})
    entries.update(smoothing=how, joints_3d_per_frame=raw)
  return entries


def _process(frames, out, input_path, fov_degrees, detector):
  """Runs the tracker over the frames, writing keypoints/ and frames/ into `out`."""
  tracker = blazepose.PoseTracker(detector or blazepose.PoseDetector())
  os.makedirs(os.path.join(out, "keypoints"))
  os.makedirs(os.path.join(out, "frames"))
  read, found, people, intrinsics = [], [], [], None
  for name, frame in frames:
    height, width = frame.shape[:2]
    if intrinsics is None:
      intrinsics = fov_intrinsics(width, height, fov_degrees)
      size = (width, height)
    elif (width, height) != size:
      raise errors.DataError(f"{input_path}: frame {name} is {width}x{height}, the first "
                             f"was {size[0]}x{size[1]}")
    read.append(name)
    pose = tracker(frame)
    drawn = frame
    if pose is not None:
      pixels, confidence = blazepose.to_h36m17(pose)
      pixels = pixels - 0.5  # Continuous coordinates -> pixel centres at integers.
      entry = frame_keypoints(pixels, confidence, pose.score, intrinsics, size)
      _write_json(os.path.join(out, "keypoints", f"{name}.json"), entry)
      people.append(dict(entry["people"][0], frame=name))
      found.append(name)
      drawn = draw_skeleton(frame, pixels, confidence, min_confidence=0.5)
    Image.fromarray(drawn).save(os.path.join(out, "frames", f"{name}.png"))
  if not read:
    raise errors.DataError(f"{input_path}: no frames")
  if not found:
    raise errors.DataError(f"{input_path}: no person found in any of its {len(read)} "
                           "frame(s)")
  _write_json(os.path.join(out, "keypoints_2d.json"),
              {"layout": "h36m17", "intrinsics": intrinsics, "image_size": list(size),
               "people": people})
  return {"input": input_path, "frames_read": read, "frames_with_person": found,
          "intrinsics": intrinsics, "image_size": list(size),
          "detector": "BlazePose full (mediapipe 0.10.14 models)"}

"""Frames from a video, a folder of frames or a photo: the one reader every path uses.

The sfm task's `source="frames"`, the 2D detectors, the face crops from videos and the
pose / depth video tools all read their frames here, so a clip gives the same frames, in the
same order, turned the same way, wherever it is used.

- A folder of frames: its image files (`IMAGE_SUFFIXES`, any case), sorted by name with digit
  runs compared as numbers (`frame2` before `frame10`, which a plain sort puts the other way
  round), each decoded by `imaging.read_image` (EXIF orientation applied).
- A photo: a file with an image suffix, read the same way (one frame).
- A video: any other file, decoded with PyAV (FFmpeg's libraries in a wheel; the optional
  extra `video`: `pip install -e ".[video]"`). Phones often store a clip sideways and tag it
  with a display rotation instead of turning the pixels; PyAV reports that rotation with each
  frame (counter-clockwise degrees, `VideoFrame.rotation`) and `upright` turns the frame, so
  frames come out as a player shows them.

PyAV rather than OpenCV (`benchmarks/video_decoders.py`, numbers in `benchmarks/README.md`):
both wrap FFmpeg and give bit-identical RGB frames on the clips measured, PyAV took less CPU
time per frame, reports why a file cannot be decoded (OpenCV's `VideoCapture` only says it
did not open), and reads the frame rate and frame count from the container.
"""

import collections
import os
import re

import numpy as np

from aign_tf import errors
from aign_tf.core import imaging

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm", ".tif", ".tiff",
                  ".webp")
# What `kind` tells apart.
FOLDER, PHOTO, VIDEO = "folder", "photo", "video"

VideoInfo = collections.namedtuple("VideoInfo", ["fps", "frames"])
VideoInfo.__doc__ = """A video's frames per second and number of frames (None if unknown)."""


# Folders and photos ---------------------------------------------------------------------------

def natural_key(path):
  """Sort key of a file name with digit runs compared as numbers: f2 < f10 < F11.

  The name itself breaks ties ("f01" and "f1" compare equal as numbers), so the order is
  total and does not depend on the listing order of the file system.
  """
  name = os.path.basename(path)
  parts = re.split(r"(\d+)", name)
  return [int(part) if i % 2 else part for i, part in enumerate(parts)], name


def frame_files(folder):
  """The image files of a folder of frames, in natural name order (`natural_key`).

  Raises:
    errors.DataError: the folder does not exist or holds no image file.
  """
  if not os.path.isdir(folder):
    raise errors.DataError(f"{folder}: frame folder not found")
  paths = [os.path.join(folder, name) for name in os.listdir(folder)
           if name.lower().endswith(IMAGE_SUFFIXES)]
  paths = [path for path in paths if os.path.isfile(path)]
  if not paths:
    raise errors.DataError(f"{folder}: no image files ({', '.join(IMAGE_SUFFIXES)})")
  return sorted(paths, key=natural_key)


def kind(path):
  """`FOLDER`, `PHOTO` (a file with an image suffix) or `VIDEO` (any other file).

  Raises:
    errors.DataError: nothing exists at `path`.
  """
  if os.path.isdir(path):
    return FOLDER
  if not os.path.isfile(path):
    raise errors.DataError(f"{path}: no such file or folder")
  return PHOTO if path.lower().endswith(IMAGE_SUFFIXES) else VIDEO


# Videos --------------------------------------------------------------------------------------

def require_av():
  """The PyAV module, or a ConfigError naming the extra that installs it."""
  try:
    import av  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise errors.ConfigError("reading videos needs PyAV: pip install -e \".[video]\" (or pip "
                             "install av); a folder of frames needs only Pillow") from e
  return av


def _cannot_decode(path, error):
  """The one-line DataError for a file FFmpeg refuses (its reason, not its errno)."""
  reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
  return errors.DataError(f"{path}: cannot decode this video "
                          f"({str(reason).strip().splitlines()[0]})")


def _check_range(path, step, max_frames, start):
  for name, value, least in (("step", step, 1), ("start", start, 0)):
    if not isinstance(value, (int, np.integer)) or value < least:
      raise errors.ConfigError(f"{path}: {name} must be an integer >= {least}, got {value!r}")
  if max_frames is not None and (not isinstance(max_frames, (int, np.integer))
                                 or max_frames < 1):
    raise errors.ConfigError(f"{path}: max_frames must be None or an integer >= 1, got "
                             f"{max_frames!r}")


def video_info(path):
  """`VideoInfo(fps, frames)` of a video from its container, without decoding frames.

  Raises:
    errors.ConfigError: PyAV is not installed.
    errors.DataError: the file is missing, is not a video or has no video stream (one line
      naming the file).
  """
  av = require_av()
  if not os.path.isfile(path):
    raise errors.DataError(f"{path}: no such video file")
  try:
    with av.open(path) as container:
      if not container.streams.video:
        raise errors.DataError(f"{path}: cannot decode this video (no video stream)")
      stream = container.streams.video[0]
      fps = float(stream.average_rate) if stream.average_rate else None
      return VideoInfo(fps, stream.frames or None)
  except av.error.FFmpegError as e:
    raise _cannot_decode(path, e) from e


def upright(frame):
  """A decoded PyAV frame as `[H, W, 3]` uint8 RGB, turned by quarter turns as its display
  rotation asks (counter-clockwise degrees; 0 when the frame carries none)."""
  array = frame.to_ndarray(format="rgb24")
  quarter_turns = round(getattr(frame, "rotation", 0) / 90) % 4
  return np.ascontiguousarray(np.rot90(array, quarter_turns)) if quarter_turns else array


def iter_video(path, step=1, max_frames=None, start=0):
  """Yields (frame index, `[H, W, 3]` uint8 RGB, upright) for frames start, start + step, ...

  Every frame is decoded (inter-frame codecs need them all) but only the kept ones are
  converted to RGB; decoding stops after `max_frames` kept frames.

  Args:
    path: a video file FFmpeg can decode (mp4, mov, avi, mkv, webm, ...).
    step: keep every `step`-th frame (>= 1).
    max_frames: keep at most this many frames (None: to the end).
    start: index of the first frame kept.

  Raises:
    errors.ConfigError: PyAV is not installed; a bad step, start or max_frames.
    errors.DataError: the file is missing, has no video stream, cannot be decoded or has no
      frame at or after `start` (one line naming the file).
  """
  av = require_av()
  _check_range(path, step, max_frames, start)
  if not os.path.isfile(path):
    raise errors.DataError(f"{path}: no such video file")
  kept = seen = 0
  try:
    with av.open(path) as container:
      if not container.streams.video:
        raise errors.DataError(f"{path}: cannot decode this video (no video stream)")
      for index, frame in enumerate(container.decode(container.streams.video[0])):
        seen += 1
        if index < start or (index - start) % step:
          continue
        yield index, upright(frame)
        kept += 1
        if max_frames is not None and kept >= max_frames:
          return
  except av.error.FFmpegError as e:
    raise _cannot_decode(path, e) from e
  if not seen:
    raise errors.DataError(f"{path}: no video frames could be decoded")
  if not kept:
    raise errors.DataError(f"{path}: no frame at or after index {start} (the video has "
                           f"{seen} frames)")


# Any input -----------------------------------------------------------------------------------

def iter_frames(path, step=1, max_frames=None):
  """Yields (name, `[H, W, 3]` uint8 RGB) of every `step`-th frame, at most `max_frames`.

  Names: a folder's file stems, `frame_000123` (the index in the video) for a video, the
  file stem for a photo (its only frame).

  Raises:
    errors.ConfigError: a video without PyAV; a bad step or max_frames.
    errors.DataError: a missing path, a folder without images, an unreadable image or an
      undecodable video (naming the file).
  """
  _check_range(path, step, max_frames, 0)
  what = kind(path)
  if what == VIDEO:
    for index, frame in iter_video(path, step, max_frames):
      yield f"frame_{index:06d}", frame
    return
  files = frame_files(path)[::step] if what == FOLDER else [path]
  for file in files[:max_frames]:
    yield os.path.splitext(os.path.basename(file))[0], imaging.read_image(file)

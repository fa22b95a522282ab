"""Temporal smoothing of 3D joint sequences and the jitter metric (issue 17).

A per-frame lifter sees every video frame on its own, so detector noise that is independent
from frame to frame becomes 3D jitter. Two filters on the per-frame output `[T, J, 3]`:

  savgol     Savitzky-Golay (Savitzky & Golay 1964): at every frame, the value at the
             centre of the least-squares polynomial of degree `polyorder` fitted to the
             `window` frames around it (at the ends, the polynomial fitted to the first or
             last `window` frames). Non-causal (needs (window - 1) / 2 future frames), so
             for whole videos; it reproduces polynomials of degree <= `polyorder` exactly,
             so constant and linear motion passes unchanged and there is no lag. Its
             -3 dB cutoff is about (polyorder + 1) / (3.2 m - 4.6) of the Nyquist frequency
             for window = 2 m + 1 (Schafer 2011, "What is a Savitzky-Golay filter?").
  one_euro   the One-Euro filter (Casiez, Roussel & Vogel, CHI 2012): a causal first-order
             low-pass whose cutoff rises with the (smoothed) speed,
               f_c = min_cutoff + beta * |dx/dt|,  alpha(f) = 1 / (1 + fps / (2 pi f)),
               x^_t = alpha(f_c) x_t + (1 - alpha(f_c)) x^_{t-1};
             for live streams: no future frames, a little lag on fast motion.

Jitter (`acceleration_mm`, `jitter_mm`): the norm of each joint's second difference
a_t = x_{t+1} - 2 x_t + x_{t-1}, in millimetres per frame^2 (VideoPose3D's MPJVE one order
up; the "Accel" error of HMR-temporal / VIBE is the same difference of errors). Sequences
are cut into `segments` (consecutive frames of one clip seen by one camera); differences
never cross a segment boundary.

All functions are NumPy, on float arrays `[T, ...]` with time first.
"""

import math

import numpy as np

from aign_tf import errors

SAVGOL = "savgol"
ONE_EURO = "one_euro"
METHODS = (SAVGOL, ONE_EURO)
# Defaults chosen on the pose task's *training* clips' videos (experiments/pose_temporal.py
# --tune, 4000-step per-frame lifter): the grid values minimising MPJPE of the smoothed
# outputs there. Savitzky-Golay 7 frames, degree 1: -3 dB at ~0.4 x Nyquist = 3 Hz at 15 fps
# (Schafer's formula above). One-Euro 5 Hz, beta 3 s/m: the causal filter's lag costs MPJPE,
# so the most accurate setting smooths lightly (jitter -34% there, MPJPE -0.3 mm).
SAVGOL_WINDOW = 7
SAVGOL_POLYORDER = 1
# The frame rate the defaults were chosen at (the pose clips: 30 fps, stride 2).
TUNED_FPS = 15.0
ONE_EURO_MIN_CUTOFF = 5.0
ONE_EURO_BETA = 3.0
ONE_EURO_D_CUTOFF = 1.0


def _as_sequence(sequence, where):
  sequence = np.asarray(sequence, np.float64)
  if sequence.ndim < 1 or not np.all(np.isfinite(sequence)):
    raise errors.DataError(f"{where}: expects a finite array [T, ...], got shape "
                           f"{sequence.shape}")
  return sequence


def savgol(sequence, window=SAVGOL_WINDOW, polyorder=SAVGOL_POLYORDER):
  """Savitzky-Golay smoothing along time (module doc).

  Args:
    sequence: `[T, ...]`.
    window: odd number of frames; shorter sequences use the largest odd window that fits
      (left unchanged when it would not exceed `polyorder`).
    polyorder: polynomial degree (< window).

  Returns:
    `[T, ...]` float64.
  """
  from scipy import signal  # pylint: disable=g-import-not-at-top
  sequence = _as_sequence(sequence, "savgol")
  window, polyorder = int(window), int(polyorder)
  if window < 1 or window % 2 == 0 or not 0 <= polyorder < window:
    raise errors.ConfigError(f"savgol: window must be odd and > polyorder >= 0, got window "
                             f"{window}, polyorder {polyorder}")
  fits = min(window, len(sequence) - (1 - len(sequence) % 2))
  if fits <= polyorder:
    return sequence.copy()
  return signal.savgol_filter(sequence, fits, polyorder, axis=0, mode="interp")


def savgol_window(fps, window=SAVGOL_WINDOW, polyorder=SAVGOL_POLYORDER, tuned_fps=TUNED_FPS):
  """The odd window spanning the same time at `fps` as `window` frames at `tuned_fps`
  (the filter's cutoff in Hz scales with fps / window), longer than `polyorder`."""
  if fps <= 0:
    raise errors.ConfigError(f"savgol_window: fps must be > 0, got {fps}")
  scaled = int(round(window * fps / tuned_fps))
  scaled += 1 - scaled % 2
  return max(scaled, polyorder + 1 + polyorder % 2)


def one_euro(sequence, fps, min_cutoff=ONE_EURO_MIN_CUTOFF, beta=ONE_EURO_BETA,
             d_cutoff=ONE_EURO_D_CUTOFF):
  """The One-Euro filter along time, per coordinate (module doc).

  Args:
    sequence: `[T, ...]` (metres for joints: `beta` is then in s/m).
    fps: frames per second of the sequence.
    min_cutoff: cutoff at rest, Hz (lower: smoother when still).
    beta: cutoff increase per unit of speed (higher: less lag when moving).
    d_cutoff: cutoff of the speed estimate, Hz.

  Returns:
    `[T, ...]` float64.
  """
  sequence = _as_sequence(sequence, "one_euro")
  if fps <= 0 or min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
    raise errors.ConfigError(f"one_euro: needs fps, min_cutoff, d_cutoff > 0 and beta >= 0, "
                             f"got {fps}, {min_cutoff}, {d_cutoff}, {beta}")

  def alpha(cutoff):
    return 1.0 / (1.0 + fps / (2.0 * math.pi * cutoff))

  out = np.empty_like(sequence)
  if not len(sequence):
    return out
  out[0] = previous = sequence[0]
  speed = np.zeros_like(sequence[0])
  for t in range(1, len(sequence)):
    speed = speed + alpha(d_cutoff) * ((sequence[t] - previous) * fps - speed)
    a = alpha(min_cutoff + beta * np.abs(speed))
    previous = out[t] = previous + a * (sequence[t] - previous)
  return out


def smooth(sequence, method=SAVGOL, fps=None, **params):
  """`savgol(sequence, **params)` or `one_euro(sequence, fps, **params)` by name."""
  if method == SAVGOL:
    return savgol(sequence, **params)
  if method == ONE_EURO:
    if fps is None:
      raise errors.ConfigError("one_euro smoothing needs the frame rate (fps)")
    return one_euro(sequence, fps, **params)
  raise errors.ConfigError(f"unknown smoothing method {method!r}; known: {METHODS}")


def segment_runs(segment):
  """(start, stop) of each run of equal values in `segment` `[T]`, in order.

  Raises:
    errors.DataError: a segment id occurs in two runs (its frames are not consecutive).
  """
  segment = np.asarray(segment)
  if segment.ndim != 1:
    raise errors.DataError(f"segment ids must be [T], got shape {segment.shape}")
  if not len(segment):
    return []
  change = np.flatnonzero(segment[1:] != segment[:-1]) + 1
  starts = np.concatenate([[0], change])
  stops = np.concatenate([change, [len(segment)]])
  if len(np.unique(segment)) != len(starts):
    raise errors.DataError("segment ids must label runs of consecutive frames")
  return list(zip(starts.tolist(), stops.tolist()))


def smooth_segments(sequence, segment=None, method=SAVGOL, fps=None, **params):
  """`smooth` applied to every segment of `sequence` `[T, ...]` on its own."""
  sequence = _as_sequence(sequence, "smooth_segments")
  if segment is None:
    return smooth(sequence, method, fps, **params)
  out = np.empty_like(sequence)
  for start, stop in segment_runs(segment):
    out[start:stop] = smooth(sequence[start:stop], method, fps, **params)
  return out


def acceleration_mm(joints, segment=None):
  """Per-joint acceleration magnitudes ||x_{t+1} - 2 x_t + x_{t-1}||, mm / frame^2.

  Args:
    joints: `[T, J, D]` metres.
    segment: optional `[T]` segment ids (runs of consecutive frames); differences stay
      inside a segment (segments shorter than 3 frames contribute nothing).

  Returns:
    `[M, J]`, one row per frame with both neighbours in its segment.
  """
  joints = _as_sequence(joints, "acceleration_mm")
  if joints.ndim != 3:
    raise errors.DataError(f"acceleration_mm: expects joints [T, J, D], got {joints.shape}")
  runs = segment_runs(segment) if segment is not None else [(0, len(joints))]
  rows = [np.linalg.norm(np.diff(joints[start:stop], n=2, axis=0), axis=-1)
          for start, stop in runs if stop - start >= 3]
  if not rows:
    return np.zeros((0, joints.shape[1]))
  return 1000.0 * np.concatenate(rows)


def jitter_mm(joints, segment=None):
  """Mean joint acceleration (mm / frame^2) of `[T, J, D]` metres (`acceleration_mm`).

  Raises:
    errors.DataError: no segment has 3 frames.
  """
  accelerations = acceleration_mm(joints, segment)
  if not accelerations.size:
    raise errors.DataError("jitter: no segment has the 3 frames a second difference needs")
  return float(accelerations.mean())


def acceleration_error_mm(joints, target, segment=None):
  """Mean ||a_t(joints) - a_t(target)|| over joints and frames, mm / frame^2 (the "Accel
  error" of Kanazawa et al. 2019 / VIBE): 0 only when the motion's second differences
  match, so it penalises over-smoothing (a = 0) as well as jitter.

  Raises:
    errors.DataError: shapes differ, or no segment has 3 frames.
  """
  joints = _as_sequence(joints, "acceleration_error_mm")
  target = _as_sequence(target, "acceleration_error_mm")
  if joints.shape != target.shape or joints.ndim != 3:
    raise errors.DataError(f"acceleration_error_mm: joints {joints.shape} vs target "
                           f"{target.shape}, expected equal [T, J, D]")
  runs = segment_runs(segment) if segment is not None else [(0, len(joints))]
  rows = [np.linalg.norm(np.diff(joints[a:b] - target[a:b], n=2, axis=0), axis=-1)
          for a, b in runs if b - a >= 3]
  if not rows:
    raise errors.DataError("acceleration error: no segment has the 3 frames a second "
                           "difference needs")
  return float(1000.0 * np.concatenate(rows).mean())

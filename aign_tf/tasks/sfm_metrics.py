"""Metrics of the structure-from-motion task: depth and egomotion errors per pair, ATE on
short snippets.

Depth metrics follow Eigen et al. 2014 / Zhou et al. 2017 (abs-rel, sq-rel, RMSE, log-RMSE,
delta < 1.25 after per-image median scaling); egomotion: translation error after the
least-squares scale per example and the rotation error angle in degrees.

Zhou et al. 2017 ("Unsupervised learning of depth and ego-motion from video") evaluate
egomotion on 5-frame snippets: the predicted and true camera positions of a snippet, both
relative to its first frame, are compared after aligning the predicted positions by one
least-squares scale factor (monocular motion is known up to scale; no rotation alignment).
The per-snippet errors are then averaged over the snippets (mean and standard deviation).

Egomotion convention (`aign_tf.data.sfm`): the egomotion of the pair (target frame i, source
frame i - 1) is E_i = T_{i-1}^{-1} T_i (T camera-to-world, `sfm.relative_egomotion`), so the
poses relative to the first frame are T_0^{-1} T_i = E_1 E_2 ... E_i.
"""

import numpy as np

from aign_tf import errors
from aign_tf.data import sfm as sfm_data

REDUCTIONS = ("zhou2017", "rmse", "mean")


def egomotion_to_matrix(egomotion):
  """`[..., 6]` (t, Euler r) -> `[..., 4, 4]` rigid transform [R | t] (target -> source)."""
  egomotion = np.asarray(egomotion, np.float64)
  matrix = np.zeros(egomotion.shape[:-1] + (4, 4))
  matrix[..., :3, :3] = sfm_data.euler_to_matrix(egomotion[..., 3:])
  matrix[..., :3, 3] = egomotion[..., :3]
  matrix[..., 3, 3] = 1.0
  return matrix


def compose_egomotion(egomotion):
  """Consecutive egomotions `[N - 1, 6]` (pairs (i, i - 1)) -> poses `[N, 4, 4]` relative to
  the first frame (camera i to camera 0): the inverse of `sfm.consecutive_egomotion`."""
  steps = egomotion_to_matrix(np.asarray(egomotion, np.float64).reshape(-1, 6))
  poses = [np.eye(4)]
  for step in steps:
    poses.append(poses[-1] @ step)
  return np.stack(poses)


def _snippet_poses(true, where):
  """True poses `[N, 4, 4]` or egomotions `[N - 1, 6]` -> `[N, 4, 4]` relative to frame 0."""
  true = np.asarray(true, np.float64)
  if true.ndim == 3 and true.shape[1:] == (4, 4):
    return np.linalg.inv(true[0])[None] @ true
  if true.ndim == 2 and true.shape[1] == 6:
    return compose_egomotion(true)
  raise errors.DataError(f"{where}: true motion must be poses [N, 4, 4] or egomotions "
                         f"[N - 1, 6], got shape {true.shape}")


def snippet_ate(true, predicted_egomotion, reduction="zhou2017", align_scale=True):
  """Absolute trajectory error of one snippet after least-squares scale alignment (or
  without it: `align_scale=False`, for a model that predicts metric scale).

  Args:
    true: the snippet's true camera-to-world poses `[N, 4, 4]` (any world frame), or its true
      consecutive egomotions `[N - 1, 6]`.
    predicted_egomotion: `[N - 1, 6]` predicted egomotion of the pairs (frame i, frame i - 1),
      i = 1..N-1, in this package's convention.
    reduction: how the N position errors e_i = |s p_i - g_i| become one number:
      "zhou2017": sqrt(sum_i e_i^2) / N, what the evaluation code released with Zhou et al.
        2017 computes (use it to compare with published numbers; it equals the RMSE divided
        by sqrt(N));
      "rmse": sqrt(mean_i e_i^2); "mean": mean_i e_i.
    Frame 0 is counted in N (its error is 0: both trajectories start at the origin).

  Returns:
    float: the error, in the units of the true positions.

  Raises:
    errors.DataError: shapes that do not match.
    errors.ConfigError: unknown reduction.
  """
  if reduction not in REDUCTIONS:
    raise errors.ConfigError(f"snippet_ate: reduction must be one of {REDUCTIONS}, got "
                             f"{reduction!r}")
  true_positions = _snippet_poses(true, "snippet_ate")[:, :3, 3]
  predicted_egomotion = np.asarray(predicted_egomotion, np.float64)
  if predicted_egomotion.shape != (len(true_positions) - 1, 6):
    raise errors.DataError(f"snippet_ate: predicted egomotion has shape "
                           f"{predicted_egomotion.shape}, expected "
                           f"({len(true_positions) - 1}, 6) for {len(true_positions)} frames")
  predicted_positions = compose_egomotion(predicted_egomotion)[:, :3, 3]
  denominator = np.sum(predicted_positions ** 2)
  scale = np.sum(true_positions * predicted_positions) / denominator if denominator > 0 else 0.0
  if not align_scale:
    scale = 1.0
  errors_ = np.linalg.norm(scale * predicted_positions - true_positions, axis=-1)
  if reduction == "zhou2017":
    return float(np.sqrt(np.sum(errors_ ** 2)) / len(errors_))
  if reduction == "rmse":
    return float(np.sqrt(np.mean(errors_ ** 2)))
  return float(np.mean(errors_))


def ate_metrics(true, predicted_egomotion, reduction="zhou2017", align_scale=True):
  """ATE of S snippets: `true` `[S, N, 4, 4]` or `[S, N - 1, 6]`, `predicted_egomotion`
  `[S, N - 1, 6]` -> {"ate": `[S]` per-snippet errors, "ate_mean", "ate_std"} (Zhou et al.
  report mean and standard deviation over snippets); `align_scale` as `snippet_ate`."""
  if len(true) != len(predicted_egomotion):
    raise errors.DataError(f"ate_metrics: {len(true)} true snippets but "
                           f"{len(predicted_egomotion)} predicted")
  values = np.array([snippet_ate(t, p, reduction, align_scale)
                     for t, p in zip(true, predicted_egomotion)])
  return {"ate": values, "ate_mean": float(np.mean(values)), "ate_std": float(np.std(values))}


def snippets(poses, length=5, stride=1):
  """Overlapping snippets of a trajectory `[F, 4, 4]` -> `[S, length, 4, 4]`, S = number of
  windows starting at 0, stride, 2 stride, ... that fit."""
  poses = np.asarray(poses, np.float64)
  starts = range(0, len(poses) - length + 1, stride)
  if len(starts) == 0:
    raise errors.DataError(f"snippets: {len(poses)} poses are fewer than the snippet length "
                           f"{length}")
  return np.stack([poses[s:s + length] for s in starts])


def depth_metrics(true_depth, predicted_depth, min_depth=1e-3, max_depth=None):
  """Per-example depth errors after per-image median scaling, dict of `[B]` arrays."""
  true_depth = np.asarray(true_depth, np.float64).reshape(len(true_depth), -1)
  predicted = np.asarray(predicted_depth, np.float64).reshape(len(true_depth), -1)
  names = ("abs_rel", "sq_rel", "rmse", "log_rmse", "delta_1.25")
  out = {name: np.zeros(len(true_depth)) for name in names}
  for i, (gt, pred) in enumerate(zip(true_depth, predicted)):
    valid = np.isfinite(gt) & (gt > min_depth)
    if max_depth is not None:
      valid &= gt < max_depth
    gt, pred = gt[valid], np.maximum(pred[valid], min_depth)
    if gt.size == 0:
      for name in names:
        out[name][i] = np.nan
      continue
    pred = pred * np.median(gt) / np.median(pred)
    ratio = np.maximum(gt / pred, pred / gt)
    out["abs_rel"][i] = np.mean(np.abs(gt - pred) / gt)
    out["sq_rel"][i] = np.mean((gt - pred) ** 2 / gt)
    out["rmse"][i] = np.sqrt(np.mean((gt - pred) ** 2))
    out["log_rmse"][i] = np.sqrt(np.mean((np.log(gt) - np.log(pred)) ** 2))
    out["delta_1.25"][i] = np.mean(ratio < 1.25)
  return out


def egomotion_metrics(true_egomotion, predicted_egomotion, unscaled=False):
  """Translation error after the best scale per example, rotation error in degrees; with
  `unscaled`, also "translation_error_unscaled", |t_pred - t_true| (metric scale)."""
  true_egomotion = np.asarray(true_egomotion, np.float64)
  predicted = np.asarray(predicted_egomotion, np.float64)
  t_true, t_pred = true_egomotion[:, :3], predicted[:, :3]
  scale = np.sum(t_true * t_pred, axis=1) / np.maximum(np.sum(t_pred * t_pred, axis=1), 1e-12)
  translation_error = np.linalg.norm(scale[:, None] * t_pred - t_true, axis=1)
  r_true = sfm_data.euler_to_matrix(true_egomotion[:, 3:])
  r_pred = sfm_data.euler_to_matrix(predicted[:, 3:])
  relative = np.swapaxes(r_pred, 1, 2) @ r_true
  cos = np.clip((np.trace(relative, axis1=1, axis2=2) - 1.0) / 2.0, -1.0, 1.0)
  out = {"translation_error": translation_error,
         "rotation_error_deg": np.degrees(np.arccos(cos))}
  if unscaled:
    out["translation_error_unscaled"] = np.linalg.norm(t_pred - t_true, axis=1)
  return out


# Pictures ---------------------------------------------------------------------------------

"""Pictures of 2D keypoints and 3D poses that people can read.

Used by the pose task's TensorBoard / `<model_dir>/images/` pictures and by
`tools/predict.py --plot`. One row per image (several people in a row are drawn together):

  1. the 2D input in image axes (v down), with the image's frame when its size is known;
  2. the 3D poses from the camera's side (slightly above it, orthographic, so the pose lines
     up with the 2D input);
  3. the same 3D scene turned 90 degrees about the vertical (a side view: depth runs left
     to right, the camera is on the left).

Colours are the person's sides, the same in every panel: left blue, right red, centre (spine,
head) grey; ground truth, when given, is drawn dashed in black over the prediction. The 3D
axes are equal (metres) and a translucent ground plane lies under the lowest foot. The 3D
panels use an upright frame (x right, depth forward, up = -y of the camera frame).
"""

import io

import numpy as np

from aign_tf.core import skeleton

LEFT_COLOR = "#1f77b4"  # Blue.
RIGHT_COLOR = "#d62728"  # Red.
CENTRE_COLOR = "#7f7f7f"  # Grey.
TRUTH_COLOR = "#000000"
FEET = (skeleton.JOINTS.index("r_ankle"), skeleton.JOINTS.index("l_ankle"))
# Spacing (metres) of several people drawn without camera translations.
PERSON_SPACING = 1.2


def side_color(joint):
  """The colour of the bone ending at `joint` (a H36M-17 index): the person's side."""
  name = skeleton.JOINTS[joint]
  return LEFT_COLOR if name.startswith("l_") else (
      RIGHT_COLOR if name.startswith("r_") else CENTRE_COLOR)


def upright(joints):
  """Camera frame (x right, y down, z forward) `[..., 3]` -> plot axes (x, z, -y): up is up."""
  joints = np.asarray(joints)
  return np.stack([joints[..., 0], joints[..., 2], -joints[..., 1]], axis=-1)


def _draw_2d(ax, keypoints, image_size, title):
  for person in keypoints:
    for parent, child in skeleton.BONES:
      ax.plot(person[[parent, child], 0], person[[parent, child], 1], color=side_color(child),
              lw=2, solid_capstyle="round")
    ax.scatter(person[:, 0], person[:, 1], s=6, color="#333333", zorder=3)
  if image_size is not None:
    width, height = image_size
    ax.plot([0, width, width, 0, 0], [0, 0, height, height, 0], color="#bbbbbb", lw=1)
    ax.set_xlim(-0.02 * width, 1.02 * width)
    ax.set_ylim(-0.02 * height, 1.02 * height)
  else:
    points = keypoints.reshape(-1, 2)
    centre = (points.min(0) + points.max(0)) / 2
    half = max(float(np.max(points.max(0) - points.min(0))) / 2, 1e-6) * 1.15
    ax.set_xlim(centre[0] - half, centre[0] + half)
    ax.set_ylim(centre[1] - half, centre[1] + half)
  ax.invert_yaxis()
  ax.set_aspect("equal")
  ax.set_title(title, fontsize=8)
  ax.tick_params(labelsize=6)


def _scene_bounds(scenes):
  """Centre and half-size of a cube holding every drawn joint (at least 1 m across)."""
  points = np.concatenate([s.reshape(-1, 3) for s in scenes])
  low, high = points.min(0), points.max(0)
  centre = (low + high) / 2
  half = max(float(np.max(high - low)) / 2 * 1.1, 0.5)
  return centre, half


def _draw_3d(ax, poses, truths, centre, half, ground, elev, azim, title):
  # The ground plane first, so the skeletons are drawn over it.
  xs = np.array([centre[0] - half, centre[0] + half])
  ys = np.array([centre[1] - half, centre[1] + half])
  grid_x, grid_y = np.meshgrid(xs, ys)
  ax.plot_surface(grid_x, grid_y, np.full_like(grid_x, ground), color="#d0d0d0", alpha=0.5,
                  shade=False, zorder=0)
  for t in np.linspace(0.0, 1.0, 5):
    x = xs[0] + t * (xs[1] - xs[0])
    y = ys[0] + t * (ys[1] - ys[0])
    ax.plot([x, x], ys, [ground, ground], color="#aaaaaa", lw=0.5, zorder=1)
    ax.plot(xs, [y, y], [ground, ground], color="#aaaaaa", lw=0.5, zorder=1)
  for pose in poses:
    for parent, child in skeleton.BONES:
      ax.plot(*[pose[[parent, child], k] for k in range(3)], color=side_color(child), lw=2,
              solid_capstyle="round", zorder=2)
  for pose in truths:
    for parent, child in skeleton.BONES:
      ax.plot(*[pose[[parent, child], k] for k in range(3)], color=TRUTH_COLOR, lw=1,
              ls="--", zorder=3)
  ax.set_xlim(centre[0] - half, centre[0] + half)
  ax.set_ylim(centre[1] - half, centre[1] + half)
  ax.set_zlim(centre[2] - half, centre[2] + half)
  ax.set_box_aspect((1, 1, 1))
  ax.set_proj_type("ortho")
  ax.view_init(elev=elev, azim=azim)
  # No walls or wall grids: the ground plane is the reference. The axis seen edge-on (depth
  # from the camera, x from the side) gets no ticks.
  ax.grid(False)
  for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
    axis.set_pane_color((1.0, 1.0, 1.0, 0.0))
    axis.set_major_locator(_locator())
  edge_on, seen = (ax.yaxis, ax.xaxis) if abs(azim) > 45 else (ax.xaxis, ax.yaxis)
  edge_on.set_ticks([])
  edge_on.set_label_text("")
  seen.set_label_text("x (m)" if seen is ax.xaxis else "depth (m)", fontsize=6)
  ax.set_zlabel("up (m)", fontsize=6)
  ax.tick_params(labelsize=5, pad=0)
  ax.set_title(title, fontsize=8)


def _locator():
  from matplotlib import ticker  # pylint: disable=g-import-not-at-top
  return ticker.MaxNLocator(4)


def _placed(joints, translations, keypoints_2d):
  """Root-relative poses put where the camera saw them (or side by side, by 2D order)."""
  joints = skeleton.root_relative(joints)
  if translations is not None:
    return joints + np.asarray(translations)[:, None, :]
  order = np.argsort(np.argsort(keypoints_2d[:, skeleton.ROOT, 0]))
  offsets = (order - (len(joints) - 1) / 2.0) * PERSON_SPACING
  return joints + np.stack([offsets, np.zeros_like(offsets), np.zeros_like(offsets)], -1)[
      :, None, :]


def plot_poses(keypoints_2d, joints_3d, ground_truth=None, titles=None, size=3.0,
               translations=None, groups=None, image_size=None, dpi=80):
  """Draws 2D inputs and 3D poses, one row per group of people (module doc).

  Args:
    keypoints_2d: `[N, 17, 2]` 2D keypoints (image axes: v down; pixels or normalised).
    joints_3d: `[N, 17, 3]` camera-frame joints (metres, x right, y down, z forward).
    ground_truth: optional `[N, 17, 3]`, drawn dashed in black.
    titles: optional list of strings, one per row.
    size: inches per panel.
    translations: optional `[N, 3]` pelvis positions in the camera frame (the pose model's
      `camera_translation`) placing people in one scene; without them people in a row stand
      side by side in their 2D left-to-right order.
    groups: optional list of lists of indices into N, one row per list (default: one row
      per person).
    image_size: optional (width, height) of the image the 2D keypoints are pixels of, or a
      list with one (width, height) or None per row.
    dpi: dots per inch.

  Returns:
    uint8 image `[H, W, 3]`.
  """
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  from matplotlib.lines import Line2D  # pylint: disable=g-import-not-at-top
  keypoints_2d = np.asarray(keypoints_2d, np.float64)
  joints_3d = np.asarray(joints_3d, np.float64)
  truth = None if ground_truth is None else np.asarray(ground_truth, np.float64)
  groups = [[i] for i in range(len(joints_3d))] if groups is None else [list(g) for g in groups]
  sizes = image_size if (image_size is not None and len(image_size) == len(groups) and all(
      s is None or np.ndim(s) == 1 for s in image_size)) else [image_size] * len(groups)
  figure = Figure(figsize=(3 * size, 1.1 * size * len(groups)), dpi=dpi)
  for row, members in enumerate(groups):
    members = np.asarray(members, np.int64)
    title = titles[row] if titles else "2D input"
    _draw_2d(figure.add_subplot(len(groups), 3, 3 * row + 1), keypoints_2d[members],
             sizes[row], title)
    moved = None if translations is None else np.asarray(translations)[members]
    poses = upright(_placed(joints_3d[members], moved, keypoints_2d[members]))
    truths = [] if truth is None else upright(
        _placed(truth[members], moved, keypoints_2d[members]))
    centre, half = _scene_bounds([poses] + ([truths] if len(truths) else []))
    feet = np.concatenate([poses[:, FEET, 2].ravel()] +
                          ([truths[:, FEET, 2].ravel()] if len(truths) else []))
    ground = float(feet.min()) - 0.02
    suffix = ", dashed: truth" if truth is not None else ""
    _draw_3d(figure.add_subplot(len(groups), 3, 3 * row + 2, projection="3d",
                                computed_zorder=False), poses, truths,
             centre, half, ground, elev=10, azim=-90, title="3D, camera view" + suffix)
    _draw_3d(figure.add_subplot(len(groups), 3, 3 * row + 3, projection="3d",
                                computed_zorder=False), poses, truths,
             centre, half, ground, elev=10, azim=0, title="3D, side view (90 deg)")
  handles = [Line2D([], [], color=c, lw=2, label=l) for c, l in (
      (LEFT_COLOR, "person's left"), (RIGHT_COLOR, "right"), (CENTRE_COLOR, "centre"))]
  if truth is not None:
    handles.append(Line2D([], [], color=TRUTH_COLOR, lw=1, ls="--", label="ground truth"))
  figure.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=7,
                frameon=False)
  figure.tight_layout(rect=(0, 0.04 / len(groups) ** 0.5, 1, 1))
  buffer = io.BytesIO()
  figure.savefig(buffer, format="png")
  from PIL import Image  # pylint: disable=g-import-not-at-top
  buffer.seek(0)
  return np.asarray(Image.open(buffer).convert("RGB"))


def plot_predictions(keypoints, outputs, max_rows=4, size=3.0):
  """`tools/predict.py --plot`: the first `max_rows` images (or clips' first frames) of a
  `keypoints2d.read_keypoints` result with the model's outputs.

  Args:
    keypoints: `read_keypoints`' dict (its "pixels", "groups", "people").
    outputs: the model's outputs for its rows: "joints_3d" `[N, 17, 3]`, and
      "camera_translation" `[N, 3]` when the model gives it (people placed in one scene).

  Returns:
    uint8 image `[H, W, 3]`.
  """
  rows_by_group = {}
  for member in keypoints["people"]:
    if member["row"] is None:
      continue
    rows = rows_by_group.setdefault(member["group"], [])
    if keypoints["group_by"] == "images" or not rows:  # A clip: its first frame only.
      rows.append((member["row"], member.get("frame")))
  groups, titles, sizes = [], [], []
  for index, rows in sorted(rows_by_group.items())[:max_rows]:
    group = keypoints["groups"][index]
    groups.append([row for row, _ in rows])
    titles.append(f"image {group['image_id']}" if "image_id" in group else
                  f"{group['subject']} {group['action']} cam {group['camera']}, frame "
                  f"{rows[0][1]}")
    sizes.append(group.get("intrinsics", {}).get("image_size"))
  translations = outputs.get("camera_translation")
  return plot_poses(keypoints["pixels"], outputs["joints_3d"], titles=titles, size=size,
                    translations=None if translations is None else np.asarray(translations),
                    groups=groups, image_size=sizes)

"""A video or a folder of frames -> depth maps, a point cloud and the camera trajectory, from
a trained sfm model.

    python tools/depth_video.py --saved_model=export/sfm/1 --input=clip.mp4 --output_dir=out/clip
    python tools/depth_video.py --model_dir=runs/sfm --input=frames/ --output_dir=out/frames \
        --intrinsics=525,525,319.5,239.5 --ply_frame=10

Writes frames/<frame>.png (frame | depth colour map, near = bright), depth.gif, depth.npz,
points_<frame>.ply (the --ply_frame-th frame), trajectory.txt (TUM) and trajectory.png
(from above and from the side), summary.json (see aign_tf/serving/depth_video.py). Frames
are centre-cropped to the model's aspect ratio and resized to its input size. Videos need
PyAV: pip install -e ".[video]".
"""

from absl import app
from absl import flags

flags.DEFINE_string("input", None, "A video file or a folder of frames.", required=True)
flags.DEFINE_string("output_dir", None, "Where the results go (replaced as a whole).",
                    required=True)
flags.DEFINE_string("saved_model", None, "An exported sfm model (tools/export.py), e.g. "
                    "export/sfm/1.")
flags.DEFINE_string("model_dir", None, "Or an sfm training directory (tools/train.py).")
flags.DEFINE_string("intrinsics", None, "fx,fy,cx,cy in pixels of the original frames "
                    "(pixel centres at integers).")
flags.DEFINE_float("fov_degrees", None, "Without --intrinsics: the horizontal field of view "
                   "(default 60; square pixels, centred principal point).")
flags.DEFINE_integer("ply_frame", 0, "Which frame (index among the frames used) becomes "
                     "the point cloud.")
flags.DEFINE_enum("ply_format", "binary", ["binary", "ascii"], "PLY encoding (binary = "
                  "little-endian).")
flags.DEFINE_integer("step", 1, "Use every step-th frame.")
flags.DEFINE_integer("max_frames", None, "Stop after this many frames.")
flags.DEFINE_bool("gif", True, "Also write depth.gif.")
flags.DEFINE_float("gif_fps", None, "GIF frame rate (default: the video's / step, else 10).")
flags.DEFINE_integer("batch_size", 8, "Frame pairs per model call.")
flags.DEFINE_float("median_depth", None, "Rescale each frame so its median depth is this "
                   "(e.g. 6.6, the procedural memory's median depth in metres, or a typical "
                   "depth of your scenes); default: the model's units.")
FLAGS = flags.FLAGS


def _run():
  from aign_tf.serving import depth_video  # pylint: disable=g-import-not-at-top
  return depth_video.run(
      FLAGS.input, FLAGS.output_dir, saved_model=FLAGS.saved_model, model_dir=FLAGS.model_dir,
      intrinsics=FLAGS.intrinsics, fov_degrees=FLAGS.fov_degrees, step=FLAGS.step,
      max_frames=FLAGS.max_frames, ply_frame=FLAGS.ply_frame, ply_format=FLAGS.ply_format,
      gif=FLAGS.gif, gif_fps=FLAGS.gif_fps, batch_size=FLAGS.batch_size,
      median_depth=FLAGS.median_depth)


def main(argv):
  del argv
  from aign_tf.train import cli  # pylint: disable=g-import-not-at-top
  summary = cli.run(_run)
  print(f"{len(summary['frames'])} frames, model input {summary['model_size'][0]}x"
        f"{summary['model_size'][1]}; wrote {FLAGS.output_dir}")


if __name__ == "__main__":
  app.run(main)

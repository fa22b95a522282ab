"""A video, a folder of frames or a photo -> per-frame 2D keypoints (H36M-17) and drawings.

    python tools/pose_video.py --input=clip.mp4 --output_dir=out/clip
    python tools/pose_video.py --input=frames/ --output_dir=out/frames --fov_degrees=70
    # Also lift to 3D with the pose model served by tools/serve.py (or TF Serving):
    python tools/pose_video.py --input=clip.mp4 --output_dir=out/clip \
        --server=http://127.0.0.1:8501 --model=pose
    # ... smoothed over time (Savitzky-Golay; --smooth=one_euro for the causal filter):
    python tools/pose_video.py --input=clip.mp4 --output_dir=out/clip \
        --server=http://127.0.0.1:8501 --model=pose --smooth=savgol
    # ... with a temporal lifter (gin/pose_temporal.gin, exported as pose_temporal): the
    # same command; every frame is lifted from the window of frames around it (30 fps
    # video, --step=2: the 15 fps the lifter was trained at), and smoothing still applies:
    python tools/pose_video.py --input=clip.mp4 --output_dir=out/clip --step=2 \
        --server=http://127.0.0.1:8501 --model=pose_temporal --smooth=savgol

Writes keypoints/<frame>.json (the pose task's keypoint JSON), keypoints_2d.json (all
frames), frames/<frame>.png and skeleton.gif (the 2D skeleton drawn), summary.json and,
with --server, joints_3d.json (see aign_tf/serving/pose_video.py). The served model's
signature says which lifter it is: keypoints_2d [B, 17, 2] lifts each frame alone,
[B, W, 17, 2] (a temporal lifter) lifts each frame from the W frames read centred on it,
cut within runs of frames with a person (the first/last frame of a run repeated past its
ends); joints_3d.json records the lifter's kind and window. The detector models
come from the mediapipe 0.10.14 wheel on PyPI, fetched on first use (`python
tools/fetch_samples.py detectors`). Videos need PyAV: pip install -e ".[video]".
"""

from absl import app
from absl import flags

flags.DEFINE_string("input", None, "A video file, a folder of frames or a photo.",
                    required=True)
flags.DEFINE_string("output_dir", None, "Where the results go (replaced as a whole).",
                    required=True)
flags.DEFINE_float("fov_degrees", 60.0, "Horizontal field of view of the camera, for the "
                   "intrinsics written with the keypoints (a phone's main camera: ~60-70).")
flags.DEFINE_integer("step", 1, "Use every step-th frame.")
flags.DEFINE_integer("max_frames", None, "Stop after this many frames.")
flags.DEFINE_string("server", None, "URL of a TF-Serving-compatible server with a pose "
                    "model: also write joints_3d.json. A per-frame or a temporal lifter, "
                    "recognised by its signature (a temporal one gets a window of frames "
                    "per output frame).")
flags.DEFINE_string("model", "pose", "The pose model's name on --server (e.g. pose, or "
                    "pose_temporal for a temporal lifter).")
flags.DEFINE_bool("gif", True, "Also write skeleton.gif.")
flags.DEFINE_float("gif_fps", None, "GIF frame rate (default: the video's / step, else 10).")
flags.DEFINE_enum("smooth", None, ["savgol", "one_euro"], "Needs --server: filter the 3D "
                  "outputs over time (savgol: whole videos, no lag; one_euro: causal, for "
                  "live use), after either lifter; the lifter's unfiltered outputs stay in "
                  "joints_3d_per_frame.json.")
flags.DEFINE_float("smooth_fps", None, "Frame rate for --smooth (default: the video's / "
                   "step, else 30).")
flags.DEFINE_string("detector_dir", None, "Folder with the detector .tflite files (default: "
                    "the fetched cache).")
FLAGS = flags.FLAGS


def _run():
  from aign_tf.detectors import blazepose  # pylint: disable=g-import-not-at-top
  from aign_tf.serving import pose_video  # pylint: disable=g-import-not-at-top
  detector = blazepose.PoseDetector(model_dir=FLAGS.detector_dir)
  return pose_video.run(FLAGS.input, FLAGS.output_dir, fov_degrees=FLAGS.fov_degrees,
                        step=FLAGS.step, max_frames=FLAGS.max_frames, server=FLAGS.server,
                        model=FLAGS.model, gif=FLAGS.gif, gif_fps=FLAGS.gif_fps,
                        detector=detector, smooth=FLAGS.smooth, smooth_fps=FLAGS.smooth_fps)


def main(argv):
  del argv
  from aign_tf.train import cli  # pylint: disable=g-import-not-at-top
  summary = cli.run(_run)
  print(f"{len(summary['frames_with_person'])} of {len(summary['frames_read'])} frames with "
        f"a person; wrote {FLAGS.output_dir}")


if __name__ == "__main__":
  app.run(main)

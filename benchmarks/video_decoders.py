"""PyAV or OpenCV for decoding videos: time per frame, agreement and rotation metadata.

Both libraries wrap FFmpeg's decoders; this measures what differs between them on this
machine, to choose the one `aign_tf.core.video` uses:
  - decode time per frame to RGB uint8 (wall clock, best of `--repeats`, and process CPU
    time, which counts every decoder thread), for every frame and for every `--step`-th one;
  - the largest pixel difference between the two decoders' RGB frames (same FFmpeg colour
    conversion or not);
  - whether a clip carrying a 90-degree display rotation (what phones write instead of
    turning the pixels) comes out upright: PyAV reports the rotation per frame
    (`VideoFrame.rotation`) and the caller turns the frame, OpenCV turns it itself
    (`CAP_PROP_ORIENTATION_AUTO`);
  - what each says about a file that is not a video.

  python benchmarks/video_decoders.py --video=/path/bikes.mp4 --video=/path/franck.mp4
  python benchmarks/video_decoders.py     # a 120-frame 640x360 clip written here by PyAV
"""

import os
import tempfile
import time

from absl import app
from absl import flags
import numpy as np

flags.DEFINE_multi_string("video", [], "Video files to decode (default: a synthetic clip).")
flags.DEFINE_integer("repeats", 3, "Timed passes per decoder and video; the best is kept.")
flags.DEFINE_integer("step", 5, "Also time keeping only every step-th frame.")
FLAGS = flags.FLAGS


def write_clip(path, count=120, height=360, width=640, rotation=None):
  """A moving gradient encoded with PyAV (mpeg4); `rotation` (degrees counter-clockwise)
  is stored as the stream's display matrix, pixels untouched."""
  import av  # pylint: disable=g-import-not-at-top
  rows, cols = np.mgrid[0:height, 0:width]
  with av.open(path, "w") as container:
    stream = container.add_stream("mpeg4", rate=25)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.bit_rate = 2_000_000
    if rotation is not None:
      stream.set_display_rotation(rotation)
    for i in range(count):
      frame = np.stack([(cols + 4 * i) % 256, (rows + 2 * i) % 256,
                        np.full_like(rows, (3 * i) % 256)], -1).astype(np.uint8)
      if rotation is not None:
        frame[:height // 4, :width // 4] = (255, 0, 0)  # A red top-left marker.
      for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
        container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)


def pyav_frames(path, step=1, threads=None):
  """Every `step`-th frame as RGB uint8, turned by its display rotation; only kept frames
  are converted from YUV."""
  import av  # pylint: disable=g-import-not-at-top
  with av.open(path) as container:
    stream = container.streams.video[0]
    if threads:
      stream.thread_type = threads
    for index, frame in enumerate(container.decode(stream)):
      if index % step:
        continue
      array = frame.to_ndarray(format="rgb24")
      turns = round(frame.rotation / 90) % 4
      yield np.ascontiguousarray(np.rot90(array, turns)) if turns else array


def opencv_frames(path, step=1):
  """Every `step`-th frame as RGB uint8 (`grab` skips the colour conversion of the others;
  OpenCV applies the display rotation by default)."""
  import cv2  # pylint: disable=g-import-not-at-top
  capture = cv2.VideoCapture(path)
  try:
    index = 0
    while True:
      if index % step:
        if not capture.grab():
          return
      else:
        ok, frame = capture.read()
        if not ok:
          return
        yield np.ascontiguousarray(frame[..., ::-1])
      index += 1
  finally:
    capture.release()


def timed(frames):
  """(frames decoded, wall seconds, CPU seconds) of draining an iterator."""
  wall, cpu = time.perf_counter(), time.process_time()
  count = sum(1 for _ in frames)
  return count, time.perf_counter() - wall, time.process_time() - cpu


DECODERS = (
    ("PyAV (default threads)", lambda path, step: pyav_frames(path, step)),
    ("PyAV (thread_type=AUTO)", lambda path, step: pyav_frames(path, step, "AUTO")),
    ("OpenCV", opencv_frames),
)


def describe(path):
  import av  # pylint: disable=g-import-not-at-top
  with av.open(path) as container:
    stream = container.streams.video[0]
    return (f"{os.path.basename(path)}: {stream.codec_context.name} "
            f"{stream.codec_context.width}x{stream.codec_context.height}, "
            f"{stream.frames} frames at {float(stream.average_rate):g} fps")


def time_decoders(path):
  print(describe(path))
  print(f"  {'decoder':26s} {'step':>4s} {'frames':>6s} {'wall ms':>8s} {'CPU ms':>7s}  "
        "(per frame returned)")
  for step in (1, FLAGS.step):
    for name, decode in DECODERS:
      runs = [timed(decode(path, step)) for _ in range(FLAGS.repeats)]
      count = runs[0][0]
      wall, cpu = min(r[1] for r in runs), min(r[2] for r in runs)
      print(f"  {name:26s} {step:4d} {count:6d} {1e3 * wall / count:8.2f} "
            f"{1e3 * cpu / count:7.2f}")
  differences = [np.abs(a.astype(np.int16) - b).max()
                 for a, b in zip(pyav_frames(path), opencv_frames(path))]
  print(f"  PyAV vs OpenCV RGB: largest difference {max(differences)} over "
        f"{len(differences)} frames")


def _is_marker(pixel):
  red, green, blue = (int(v) for v in pixel)
  return red > 200 and green < 60 and blue < 60


def check_rotation(folder):
  """Decodes a clip stored 64 wide x 48 high with a 90-degree display rotation."""
  import av  # pylint: disable=g-import-not-at-top
  path = os.path.join(folder, "rotated.mp4")
  if not hasattr(av.video.stream.VideoStream, "set_display_rotation"):
    print(f"rotation: PyAV {av.__version__} cannot write a display matrix; not checked")
    return
  write_clip(path, count=3, height=48, width=64, rotation=90)
  # Counter-clockwise by 90 degrees: 48 wide x 64 high, the marker at the bottom left.
  for name, decode in DECODERS[::2]:
    frame = next(decode(path, 1))
    upright = (frame.shape[:2] == (64, 48) and _is_marker(frame[-4, 4])
               and not _is_marker(frame[4, 4]))
    print(f"rotation 90 (stored 64x48): {name:24s} gives {frame.shape[1]}x{frame.shape[0]}, "
          f"{'upright' if upright else 'NOT upright'}")


def check_corrupt(folder):
  """What each library reports for a file of garbage named like a video."""
  import av  # pylint: disable=g-import-not-at-top
  import cv2  # pylint: disable=g-import-not-at-top
  path = os.path.join(folder, "broken.mp4")
  with open(path, "wb") as f:
    f.write(b"not a video" * 100)
  try:
    av.open(path).close()
    print("corrupt file: PyAV opened it")
  except av.error.FFmpegError as e:
    print(f"corrupt file: PyAV raises {type(e).__name__}: {e}")
  capture = cv2.VideoCapture(path)
  print(f"corrupt file: OpenCV isOpened() = {capture.isOpened()}, read() = "
        f"{capture.read()[0]} (no exception, no reason)")
  capture.release()


def main(argv):
  del argv
  import av  # pylint: disable=g-import-not-at-top
  import cv2  # pylint: disable=g-import-not-at-top
  libavcodec = ".".join(map(str, av.library_versions["libavcodec"]))
  print(f"PyAV {av.__version__} (libavcodec {libavcodec}), "
        f"OpenCV {cv2.__version__}, {os.cpu_count()} CPUs")
  with tempfile.TemporaryDirectory() as folder:
    videos = FLAGS.video
    if not videos:
      videos = [os.path.join(folder, "synthetic.mp4")]
      write_clip(videos[0])
    for path in videos:
      time_decoders(path)
    check_rotation(folder)
    check_corrupt(folder)


if __name__ == "__main__":
  app.run(main)

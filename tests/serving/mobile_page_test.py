"""The mobile face demo page (export/mobile) in real headless Chromium.

A tiny faces_sr / faces_inpaint model is trained, exported and converted; export/mobile and
the model are served on 127.0.0.1; export/mobile/test/drive.mjs (playwright-core, Debian's
/usr/bin/chromium) feeds a real photo (scikit-image's astronaut) and reads back what the page
found and computed: BlazeFace's face (run in LiteRT.js) must be where the face is and where
Python's BlazeFace puts it, the aligned crop must match Python's alignment, the "after"
canvas must equal Python LiteRT's output on the page's own model input, and the photo with
the face replaced must differ from the photo only around the face. A photo without a face,
a bad model and a non-image file must give a plain message on the page. Needs `apt-get
install chromium` and `export/mobile/setup.sh` (which also copies the detector beside the
page); skipped otherwise, saying why.
"""

import base64
import functools
import http.server
import io
import json
import os
import shutil
import subprocess
import threading

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from aign_tf import testing
from aign_tf.detectors import blazeface
from aign_tf.serving import face_demo
from aign_tf.serving import tflite
from tests.serving import tflite_test

MOBILE_DIR = os.path.join(testing.REPO_DIR, "export", "mobile")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
VENDORED = os.path.join(MOBILE_DIR, "vendor", "litertjs", "core", "dist", "index.js")
DRIVER_DEPENDENCY = os.path.join(MOBILE_DIR, "node_modules", "playwright-core")
DETECTOR = os.path.join(MOBILE_DIR, "face_detection_short_range.tflite")
DETECTOR_ERROR = os.path.join(MOBILE_DIR, "vendor", "detector_error.log")
# The astronaut's face (512x512 photo; checked with Python's BlazeFace: box (179, 81)-(272,
# 174)): the page's face box must overlap this region, and the pasted photo may differ from
# the photo only inside CHANGED_REGION (the face oval with its feathered border).
FACE_REGION = (170, 60, 270, 190)  # xmin, ymin, xmax, ymax
CHANGED_REGION = (150, 30, 300, 205)


def _missing():
  if not os.path.exists(CHROMIUM):
    return f"{CHROMIUM} not found (apt-get install chromium)"
  if shutil.which("node") is None or shutil.which("npm") is None:
    return "node/npm not found"
  if not (os.path.exists(VENDORED) and os.path.isdir(DRIVER_DEPENDENCY)):
    return "LiteRT.js / playwright-core not installed: run export/mobile/setup.sh"
  if not os.path.exists(DETECTOR):
    reason = "not fetched"
    if os.path.exists(DETECTOR_ERROR):
      with open(DETECTOR_ERROR) as f:
        reason = (f.read().strip().splitlines() or [reason])[-1]
    return (f"{DETECTOR} missing: export/mobile/setup.sh could not get the face detector "
            f"({reason})")
  return None


pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(_missing() is not None, reason=str(_missing()))]


def _face_photo(path):
  """scikit-image's astronaut (512x512, one face) written as a PNG."""
  import skimage.data  # pylint: disable=g-import-not-at-top
  photo = skimage.data.astronaut()[:, :, :3]
  Image.fromarray(photo).save(path)
  return photo


def _iou(a, b):
  width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
  height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
  area = lambda r: (r[2] - r[0]) * (r[3] - r[1])
  return width * height / (area(a) + area(b) - width * height)


class _Site:
  """Serves export/mobile read-only, plus `model_path` as /model.tflite, on 127.0.0.1.

  (No symlinks into the repository: the test's temp-dir cleanup would follow them.)
  """

  def __init__(self, model_path):

    class Handler(http.server.SimpleHTTPRequestHandler):
      def translate_path(self, path):
        if path.split("?", 1)[0] == "/model.tflite":
          return model_path
        return super().translate_path(path)

      def log_message(self, *args):
        pass

    handler = functools.partial(Handler, directory=MOBILE_DIR)
    self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    self.url = f"http://127.0.0.1:{self.server.server_address[1]}/index.html"
    self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

  def __enter__(self):
    self.thread.start()
    return self

  def __exit__(self, *exc):
    self.server.shutdown()
    self.server.server_close()


class MobilePageTest(testing.TestCase):

  def drive(self, model_bytes, image, name, runs=5):
    """Loads the page with `model_bytes`, feeds `image`; the driver's result dict."""
    scratch = os.path.join(self.get_temp_dir(), name)
    result_path = os.path.join(scratch, "result.json")
    screenshot = os.path.join(scratch, "screenshot.png")
    os.makedirs(scratch)
    model_path = os.path.join(scratch, "model.tflite")
    with open(model_path, "wb") as f:
      f.write(model_bytes)
    with _Site(model_path) as site:
      done = subprocess.run(
          ["node", os.path.join(MOBILE_DIR, "test", "drive.mjs"), site.url, image,
           result_path, screenshot, str(runs)],
          cwd=MOBILE_DIR, capture_output=True, text=True, timeout=240,
          env=dict(os.environ, CHROMIUM=CHROMIUM))
    self.assertEqual(done.returncode, 0, done.stderr[-3000:])
    with open(result_path) as f:
      result = json.load(f)
    self.assertTrue(os.path.getsize(screenshot) > 0)
    print(f"screenshot: {screenshot}")
    self.assertEqual(result["foreignRequests"], [])
    return result

  @testing.parameterized.parameters("faces_sr", "faces_inpaint")
  def test_page_finds_aligns_runs_and_pastes_the_face(self, task):
    model = os.path.join(self.get_temp_dir(), f"{task}.tflite")
    tflite.convert(tflite_test.Exports.get(task), "none", output=model,
                   num_verification_samples=1)
    photo_path = os.path.join(self.get_temp_dir(), "astronaut.png")
    photo = _face_photo(photo_path)
    with open(model, "rb") as f:
      result = self.drive(f.read(), photo_path, task)
    self.assertEqual(result["state"], "done", result["status"])
    print(f"{task}: photo chosen -> result shown in {result['timings']['photoToResultMs']} ms")

    # Found where the face is, and where Python's BlazeFace (the same .tflite) finds it.
    self.assertLen(result["faces"], 1)
    page_face = result["faces"][0]
    self.assertGreater(_iou(page_face["box"], FACE_REGION), 0.5, page_face["box"])
    python_face = blazeface.FaceDetector(MOBILE_DIR)(photo)[0]
    np.testing.assert_allclose(page_face["box"], python_face.box, atol=6)
    np.testing.assert_allclose(page_face["keypoints"], python_face.keypoints, atol=6)
    print(f"{task}: page vs Python BlazeFace: box corners within "
          f"{np.abs(np.subtract(page_face['box'], python_face.box)).max():.2f} px, keypoints "
          f"within {np.abs(np.subtract(page_face['keypoints'], python_face.keypoints)).max():.2f}")
    self.assertGreater(page_face["score"], 0.8)

    # Aligned like Python's demo: eyes on the canonical positions, the same picture.
    runner, details = tflite.signature_runner(model)
    size = details["image"][0][1]
    last = result["last"]
    self.assertEqual(last["inputSize"], size)
    side = last["outputSize"]
    np.testing.assert_allclose(np.asarray(last["alignedKeypoints"])[:2] / side,
                               blazeface.DEFAULT_EYES, atol=1e-6)
    page_aligned = np.asarray(last["aligned"], np.uint8).reshape(side, side, 4)[..., :3]
    # (Python's warp on the page's keypoints: the detections differ by a pixel or two, since
    # the page letterboxes the photo for BlazeFace with the canvas' own resampling.)
    page_keypoints = np.asarray(page_face["keypoints"])
    python_aligned, _, _ = face_demo.align_face(
        photo, blazeface.Face(np.asarray(page_face["box"]), page_keypoints, 1.0), side)
    aligned_difference = np.mean(np.abs(page_aligned.astype(float) - python_aligned))
    print(f"{task}: aligned crop {side}x{side}, page vs Python mean abs diff "
          f"{aligned_difference:.2f}")
    self.assertLess(aligned_difference, 2.0)

    # The model ran on that face: the "after" canvas is Python LiteRT's output on the page's
    # own input (the aligned crop averaged down to the model's input side).
    page_input = np.asarray(last["image"], np.uint8).reshape(1, size, size, 3)
    self.assertLess(np.mean(np.abs(page_input[0].astype(float) -
                                   face_demo.shrink(page_aligned, size))), 1.0)
    inputs = {"image": page_input}
    if "mask" in details:
      page_mask = np.asarray(last["mask"], np.uint8).reshape(1, size, size, 1)
      keypoints = np.asarray(last["alignedKeypoints"]) * size / side
      expected_mask = face_demo.box_mask(size, blazeface.part_box(keypoints, "mouth"))
      self.assertLessEqual(np.count_nonzero(page_mask[0] != expected_mask), 2 * size)
      mouth = np.round(keypoints[3]).astype(int)
      self.assertEqual(page_mask[0, mouth[1], mouth[0], 0], 255)
      inputs["mask"] = page_mask
    expected = runner(**inputs)["image"][0]
    out = expected.shape[0]
    canvas = result["canvas"]
    self.assertEqual((canvas["height"], canvas["width"]), (out, out))
    shown = np.asarray(canvas["rgba"], np.uint8).reshape(out, out, 4)
    self.assertAllEqual(shown[..., 3], np.full([out, out], 255))
    difference = np.abs(shown[..., :3].astype(int) - expected.astype(int))
    print(f"{task}: page vs Python LiteRT max abs diff {difference.max()} (uint8)")
    self.assertLessEqual(difference.max(), 1)

    # Pasted back: the photo changed around the face and nowhere else.
    header, data = result["photo"].split(",", 1)
    self.assertEqual(header, "data:image/png;base64")
    pasted = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))
    self.assertEqual(pasted.shape, photo.shape)
    changed = np.any(np.abs(pasted.astype(int) - photo) > 1, axis=-1)
    self.assertGreater(changed.sum(), 100)
    ys, xs = np.nonzero(changed)
    x0, y0, x1, y1 = CHANGED_REGION
    self.assertTrue(xs.min() >= x0 and xs.max() < x1 and ys.min() >= y0 and ys.max() < y1,
                    (xs.min(), ys.min(), xs.max(), ys.max()))

    if "mask" in details:
      # The finger-drawn stroke (middle row, left to right) is what the page then hid.
      drawn = result["drawn"]
      self.assertEqual(drawn["state"], "done")
      mask = np.asarray(drawn["last"]["mask"], np.uint8).reshape(size, size)
      self.assertEqual(mask[size // 2, size // 2], 255)
      self.assertEqual(mask[0, 0], 0)
      self.assertGreater(np.count_nonzero(mask[size // 2]), size // 3)
      redone = runner(image=page_input, mask=mask[None, :, :, None])["image"][0]
      self.assertAllEqual(np.asarray(drawn["last"]["output"], np.uint8).reshape(redone.shape),
                          redone)
    times = result["benchmark"]["times"]
    print(f"{task}: in-browser model.run {size}x{size}: first {last['ms']:.1f} ms, "
          f"median of {len(times)} {np.median(times):.2f} ms")

  def test_photo_without_a_face(self):
    model = os.path.join(self.get_temp_dir(), "sr.tflite")
    tflite.convert(tflite_test.Exports.get("faces_sr"), "none", output=model,
                   num_verification_samples=1)
    import skimage.data  # pylint: disable=g-import-not-at-top
    brick = os.path.join(self.get_temp_dir(), "brick.png")
    Image.fromarray(skimage.data.brick()).save(brick)
    with open(model, "rb") as f:
      result = self.drive(f.read(), brick, "no_face")
    self.assertEqual(result["state"], "error")
    self.assertIn("No face found in brick.png", result["status"])

  def test_not_a_tflite_model(self):
    photo_path = os.path.join(self.get_temp_dir(), "face.png")
    _face_photo(photo_path)
    result = self.drive(b"<html>not a model</html>" * 4, photo_path, "bad_model")
    self.assertEqual(result["state"], "error")
    self.assertIn("not a TFLite model", result["status"])

  def test_not_an_image(self):
    model = os.path.join(self.get_temp_dir(), "sr.tflite")
    tflite.convert(tflite_test.Exports.get("faces_sr"), "none", output=model,
                   num_verification_samples=1)
    text = os.path.join(self.get_temp_dir(), "notes.png")
    with open(text, "w") as f:
      f.write("hello, not a picture")
    with open(model, "rb") as f:
      result = self.drive(f.read(), text, "bad_image")
    self.assertEqual(result["state"], "error")
    self.assertIn("is not an image", result["status"])


if __name__ == "__main__":
  tf.test.main()

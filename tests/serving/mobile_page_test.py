"""The mobile face demo page (export/mobile) in real headless Chromium.

A tiny faces_sr / faces_inpaint model is trained, exported and converted; export/mobile and
the model are served on 127.0.0.1; export/mobile/test/drive.mjs (playwright-core, Debian's
/usr/bin/chromium) feeds a face photo and reads back the page's model input and its "after"
canvas, which must equal Python LiteRT's output on that input. Bad model / non-image files
must give a plain message on the page. Needs `apt-get install chromium` and
`export/mobile/setup.sh`; skipped otherwise.
"""

import functools
import http.server
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
from aign_tf.serving import tflite
from tests.serving import tflite_test

MOBILE_DIR = os.path.join(testing.REPO_DIR, "export", "mobile")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
VENDORED = os.path.join(MOBILE_DIR, "vendor", "litertjs", "core", "dist", "index.js")
DRIVER_DEPENDENCY = os.path.join(MOBILE_DIR, "node_modules", "playwright-core")


def _missing():
  if not os.path.exists(CHROMIUM):
    return f"{CHROMIUM} not found (apt-get install chromium)"
  if shutil.which("node") is None or shutil.which("npm") is None:
    return "node/npm not found"
  if not (os.path.exists(VENDORED) and os.path.isdir(DRIVER_DEPENDENCY)):
    return "LiteRT.js / playwright-core not installed: run export/mobile/setup.sh"
  return None


pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(_missing() is not None, reason=str(_missing()))]


def _face_photo(path):
  """A real face photo (scikit-image's astronaut, 512x512) cut to a 3:2 landscape; a
  procedural face when scikit-image (an optional extra) is not installed."""
  try:
    import skimage.data  # pylint: disable=g-import-not-at-top
    photo = skimage.data.astronaut()[:, :, :3]
  except ImportError:
    from aign_tf.data import faces_synthetic  # pylint: disable=g-import-not-at-top
    photo = faces_synthetic.draw_faces(1, resolution=512)["images"][0]
  photo = np.concatenate([photo[:, :128], photo, photo[:, -128:]], axis=1)[:512]
  Image.fromarray(photo).save(path)
  return photo


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
  def test_page_output_matches_python_litert(self, task):
    model = os.path.join(self.get_temp_dir(), f"{task}.tflite")
    tflite.convert(tflite_test.Exports.get(task), "none", output=model,
                   num_verification_samples=1)
    photo_path = os.path.join(self.get_temp_dir(), "face.png")
    photo = _face_photo(photo_path)
    with open(model, "rb") as f:
      result = self.drive(f.read(), photo_path, task)
    self.assertEqual(result["state"], "done", result["status"])

    runner, details = tflite.signature_runner(model)
    size = details["image"][0][1]
    last = result["last"]
    self.assertEqual(last["inputSize"], size)
    page_input = np.asarray(last["image"], np.uint8).reshape(1, size, size, 3)
    # The page's preprocessing is the centre square resized to the model input; the browser's
    # resampling differs from PIL's, so only roughly the same picture.
    side = min(photo.shape[:2])
    left = (photo.shape[1] - side) // 2
    crop = photo[:, left:left + side]
    reference = np.asarray(Image.fromarray(crop).resize((size, size), Image.BICUBIC))
    self.assertLess(np.mean(np.abs(page_input[0].astype(float) - reference)), 12.0)
    inputs = {"image": page_input}
    if "mask" in details:
      page_mask = np.asarray(last["mask"], np.uint8).reshape(1, size, size, 1)
      from aign_tf.serving import face_demo  # pylint: disable=g-import-not-at-top
      self.assertAllEqual(page_mask[0], face_demo.mask_for(size, "mouth"))
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

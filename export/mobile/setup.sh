#!/bin/sh
# Installs the pinned LiteRT.js (and playwright-core, for the browser test) from
# package-lock.json and copies the runtime files the page loads into vendor/; copies
# BlazeFace (face_detection_short_range.tflite, from the mediapipe wheel on PyPI, see
# aign_tf/detectors/models.py) beside the page for its face detection.
# None of node_modules/, vendor/ or the .tflite files is committed.
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
rm -rf vendor
mkdir -p vendor/litertjs/core/dist vendor/litertjs/wasm-utils/dist
cp node_modules/@litertjs/core/dist/index.js vendor/litertjs/core/dist/
cp -r node_modules/@litertjs/core/wasm vendor/litertjs/core/
cp node_modules/@litertjs/wasm-utils/dist/index.js vendor/litertjs/wasm-utils/dist/

# The detector: from the samples cache ($AIGN_TF_DETECTORS or ~/.cache/aign_tf/samples/
# detectors), fetched there first when absent (what `python tools/fetch_samples.py detectors`
# does). Without it the page says that it is missing and the browser test skips, saying why.
rm -f face_detection_short_range.tflite
python="${PYTHON:-python3}"
log="$(pwd)/vendor/detector_error.log"
if detector=$(cd ../.. && "$python" -c 'from aign_tf.detectors import models
print(models.model_path("face_detection_short_range"))' 2>"$log"); then
  cp "$detector" face_detection_short_range.tflite
  cp "$(dirname "$detector")/LICENSE.mediapipe" vendor/ 2>/dev/null || true
  rm -f "$log"
else
  echo "warning: no face detector for the page ($(tail -n 1 "$log")); run" \
       "'python tools/fetch_samples.py detectors' (needs PyPI) and this script again" >&2
fi
echo "vendor/ ready: serve with python3 -m http.server --bind 0.0.0.0 8000 --directory $(pwd)"

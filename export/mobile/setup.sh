#!/bin/sh
# Installs the pinned LiteRT.js (and playwright-core, for the browser test) from
# package-lock.json and copies the runtime files the page loads into vendor/.
# Neither node_modules/ nor vendor/ is committed.
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
rm -rf vendor
mkdir -p vendor/litertjs/core/dist vendor/litertjs/wasm-utils/dist
cp node_modules/@litertjs/core/dist/index.js vendor/litertjs/core/dist/
cp -r node_modules/@litertjs/core/wasm vendor/litertjs/core/
cp node_modules/@litertjs/wasm-utils/dist/index.js vendor/litertjs/wasm-utils/dist/
echo "vendor/ ready: serve with python3 -m http.server --bind 0.0.0.0 8000 --directory $(pwd)"

// The mobile face demo: loads a face .tflite exported by tools/export_tflite.py (uint8 `image`
// [1, H, W, 3], plus uint8 `mask` [1, H, W, 1] with 255 = hole for inpainting; outputs uint8
// `image`) with LiteRT.js, runs it on a centre-cropped photo and draws before/after.
//
// State for tests and debugging is kept on `window.faceDemo` (last input/output, latency).

import {loadLiteRt, loadAndCompile, Tensor} from '@litertjs/core';

const WASM_DIR = new URL('./vendor/litertjs/core/wasm/', import.meta.url).href;
const MIN_SIDE = 16;  // Like aign_tf/serving/face_demo.py: smaller images hold no usable face.
const MAX_PIXELS = 50_000_000;  // Larger photos are refused (memory).
// Hidden boxes in an aligned face crop, (top, bottom, left, right) as fractions; the same
// numbers as MASK_BOXES in aign_tf/serving/face_demo.py.
const MASK_BOXES = {mouth: [0.62, 0.86, 0.28, 0.72], nose: [0.40, 0.66, 0.36, 0.64]};
const TFLITE_IDENTIFIER = 'TFL3';  // FlatBuffer file identifier at bytes 4..8.

const $ = (id) => document.getElementById(id);
const state = {
  runtime: null,   // Promise of the loaded LiteRT Wasm module.
  model: null,     // CompiledModel.
  inputs: null,    // {image: {shape, dtype}, mask?: {...}}
  outputSize: 0,
  face: null,      // Uint8ClampedArray RGBA of the crop at the model's input size.
  drawn: null,     // Uint8Array [S*S] finger-drawn mask.
  running: false,
};
const faceDemo = window.faceDemo = {ready: false, last: null, error: null, state};

function setStatus(text, kind = 'info') {
  const status = $('status');
  status.textContent = text;
  status.dataset.state = kind;
  if (kind === 'error') faceDemo.error = text;
}

function fail(text) {
  setStatus(text, 'error');
  $('run').disabled = !(state.model && state.face);
}

// Model ---------------------------------------------------------------------------------------

function isTflite(bytes) {
  if (bytes.length < 8) return false;
  return String.fromCharCode(...bytes.subarray(4, 8)) === TFLITE_IDENTIFIER;
}

async function loadModel(bytes, name) {
  setStatus(`Loading model ${name}…`);
  faceDemo.ready = false;
  if (!isTflite(bytes)) {
    throw new Error(`${name} is not a TFLite model (no "${TFLITE_IDENTIFIER}" identifier).`);
  }
  await state.runtime;
  let model;
  try {
    model = await loadAndCompile(bytes, {accelerator: 'wasm'});
  } catch (e) {
    throw new Error(`LiteRT could not load ${name}: ${e.message || e}`);
  }
  const inputs = {};
  for (const d of model.getInputDetails()) {
    inputs[d.name] = {shape: Array.from(d.shape), dtype: d.dtype};
  }
  const out = model.getOutputDetails().find((d) => d.name === 'image');
  const image = inputs.image;
  if (!image || !out || image.shape.length !== 4 || image.shape[0] !== 1 ||
      image.shape[1] !== image.shape[2] || image.dtype !== 'uint8' || out.dtype !== 'uint8') {
    model.delete();
    const names = Object.entries(inputs).map(([k, v]) => `${k} ${v.dtype}[${v.shape}]`);
    throw new Error(`${name} is not a face model from tools/export_tflite.py (inputs: ` +
                    `${names.join(', ') || 'none'}; expected uint8 image [1, S, S, 3] and a ` +
                    `uint8 "image" output).`);
  }
  if (state.model) state.model.delete();
  state.model = model;
  state.inputs = inputs;
  state.outputSize = out.shape[1];
  state.drawn = new Uint8Array(image.shape[1] * image.shape[2]);
  const kind = inputs.mask ? 'inpainting' : 'super-resolution';
  $('modelInfo').textContent =
      `${name}: ${kind}, ${image.shape[1]}×${image.shape[2]} → ${out.shape[1]}×${out.shape[2]}`;
  $('maskControls').hidden = !inputs.mask;
  faceDemo.ready = true;
  faceDemo.kind = kind;
  if (state.lastBitmap) {
    await prepareFace(state.lastBitmap);
    await run();
  } else {
    setStatus('Model ready. Take a selfie or choose a photo.', 'ready');
  }
}

async function loadModelFromUrl(url) {
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error(`Could not fetch the model ${url}: ${e.message || e}`);
  }
  if (!response.ok) {
    throw new Error(`Could not fetch the model ${url}: HTTP ${response.status}. ` +
                    'Put model.tflite beside this page, pass ?model=<path>, or pick a file.');
  }
  await loadModel(new Uint8Array(await response.arrayBuffer()), url);
}

// Image ---------------------------------------------------------------------------------------

async function decode(file) {
  try {
    return await createImageBitmap(file, {imageOrientation: 'from-image'});
  } catch (e) {
    throw new Error(`${file.name || 'The file'} is not an image this browser can read.`);
  }
}

// Centre square crop of `bitmap`, resized to the model's input: RGBA pixels.
async function prepareFace(bitmap) {
  const {width, height} = bitmap;
  if (width * height > MAX_PIXELS) {
    throw new Error(`Image too large (${width}×${height}; at most ${MAX_PIXELS} pixels).`);
  }
  if (Math.min(width, height) < MIN_SIDE) {
    throw new Error(`Image too small (${width}×${height}; at least ${MIN_SIDE}×${MIN_SIDE}).`);
  }
  state.lastBitmap = bitmap;
  if (!state.inputs) return;
  const size = state.inputs.image.shape[1];
  const side = Math.min(width, height);
  const left = Math.round((width - side) / 2);
  const top = Math.round((height - side) / 2);
  const canvas = new OffscreenCanvas(size, size);
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(bitmap, left, top, side, side, 0, 0, size, size);
  state.face = ctx.getImageData(0, 0, size, size).data;
}

function maskPixels() {
  const size = state.inputs.image.shape[1];
  const choice = $('maskBox').value;
  if (choice === 'draw') return state.drawn;
  const mask = new Uint8Array(size * size);
  const [t, b, l, r] = MASK_BOXES[choice].map((f) => Math.round(f * size));
  for (let y = t; y < b; y++) mask.fill(255, y * size + l, y * size + r);
  return mask;
}

// Run -----------------------------------------------------------------------------------------

// Draws `rgb` (size×size, `channels` per pixel) enlarged `factor` times (nearest) on `canvas`.
function draw(canvas, rgb, size, channels, factor) {
  const out = size * factor;
  canvas.width = out;
  canvas.height = out;
  const ctx = canvas.getContext('2d');
  const pixels = ctx.createImageData(out, out);
  for (let y = 0; y < out; y++) {
    for (let x = 0; x < out; x++) {
      const s = (Math.floor(y / factor) * size + Math.floor(x / factor)) * channels;
      const d = (y * out + x) * 4;
      pixels.data[d] = rgb[s];
      pixels.data[d + 1] = rgb[s + (channels > 1 ? 1 : 0)];
      pixels.data[d + 2] = rgb[s + (channels > 1 ? 2 : 0)];
      pixels.data[d + 3] = 255;
    }
  }
  ctx.putImageData(pixels, 0, 0);
}

async function run() {
  if (!state.model || !state.face || state.running) return;
  state.running = true;
  $('run').disabled = true;
  setStatus('Running…', 'running');
  const size = state.inputs.image.shape[1];
  const image = new Uint8Array(size * size * 3);
  for (let i = 0; i < size * size; i++) {
    image[3 * i] = state.face[4 * i];
    image[3 * i + 1] = state.face[4 * i + 1];
    image[3 * i + 2] = state.face[4 * i + 2];
  }
  const feeds = {image};
  const shown = image.slice();
  if (state.inputs.mask) {
    feeds.mask = maskPixels();
    for (let i = 0; i < size * size; i++) {
      if (feeds.mask[i] >= 128) shown.fill(0, 3 * i, 3 * i + 3);
    }
  }
  const tensors = {};
  try {
    for (const [name, data] of Object.entries(feeds)) {
      tensors[name] = new Tensor(data, state.inputs[name].shape);
    }
    const start = performance.now();
    const results = await state.model.run(tensors);
    const ms = performance.now() - start;
    const outTensor = results.image;
    const output = new Uint8Array(outTensor.toTypedArray());
    for (const t of Object.values(results)) t.delete();
    const outSize = state.outputSize;
    const channels = output.length / (outSize * outSize);
    const factor = Math.max(1, Math.round(outSize / size));
    draw($('before'), shown, size, 3, factor);
    draw($('after'), output, outSize, channels, 1);
    faceDemo.last = {inputSize: size, outputSize: outSize, channels, ms,
                     image: Array.from(image), mask: feeds.mask ? Array.from(feeds.mask) : null,
                     output: Array.from(output)};
    faceDemo.runs = (faceDemo.runs || 0) + 1;
    setStatus(`Done: ${faceDemo.kind} in ${ms.toFixed(1)} ms (model run, this device).`, 'done');
  } catch (e) {
    fail(`Running the model failed: ${e.message || e}`);
  } finally {
    for (const t of Object.values(tensors)) t.delete();
    state.running = false;
    $('run').disabled = false;
  }
}

// Times `n` runs of the model on the last input (for the browser test and curious users).
faceDemo.benchmark = async (n = 5) => {
  const tensors = {};
  const size = state.inputs.image.shape[1];
  const feeds = {image: Uint8Array.from(faceDemo.last.image)};
  if (state.inputs.mask) feeds.mask = Uint8Array.from(faceDemo.last.mask);
  for (const [name, data] of Object.entries(feeds)) {
    tensors[name] = new Tensor(data, state.inputs[name].shape);
  }
  const times = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    const results = await state.model.run(tensors);
    results.image.toTypedArray();
    times.push(performance.now() - start);
    for (const t of Object.values(results)) t.delete();
  }
  for (const t of Object.values(tensors)) t.delete();
  return {times, inputSize: size};
};

// Events --------------------------------------------------------------------------------------

async function onImage(event) {
  const file = event.target.files && event.target.files[0];
  event.target.value = '';
  if (!file) return;
  try {
    setStatus(`Reading ${file.name}…`);
    await prepareFace(await decode(file));
    if (!state.model) {
      setStatus('Photo ready; waiting for a model.', 'ready');
      return;
    }
    await run();
  } catch (e) {
    fail(e.message || String(e));
  }
}

async function onModelFile(event) {
  const file = event.target.files && event.target.files[0];
  event.target.value = '';
  if (!file) return;
  try {
    await loadModel(new Uint8Array(await file.arrayBuffer()), file.name);
  } catch (e) {
    fail(e.message || String(e));
  }
}

function onDraw(event) {
  if (!state.inputs || !state.inputs.mask || $('maskBox').value !== 'draw') return;
  if (event.type === 'pointerdown') state.drawing = true;
  if (!state.drawing) return;
  event.preventDefault();
  const canvas = $('before');
  const rect = canvas.getBoundingClientRect();
  const size = state.inputs.image.shape[1];
  const cx = (event.clientX - rect.left) / rect.width * size;
  const cy = (event.clientY - rect.top) / rect.height * size;
  const radius = Math.max(1, size / 16);
  for (let y = Math.floor(cy - radius); y <= Math.ceil(cy + radius); y++) {
    for (let x = Math.floor(cx - radius); x <= Math.ceil(cx + radius); x++) {
      if (x >= 0 && y >= 0 && x < size && y < size &&
          (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2) {
        state.drawn[y * size + x] = 255;
      }
    }
  }
  // Show the stroke at once (black, like the hidden pixels); the model runs on release.
  const ctx = canvas.getContext('2d');
  const scale = canvas.width / size;
  ctx.fillStyle = '#000';
  ctx.beginPath();
  ctx.arc(cx * scale, cy * scale, radius * scale, 0, 2 * Math.PI);
  ctx.fill();
}

function onDrawEnd() {
  if (!state.drawing) return;
  state.drawing = false;
  run();
}

$('camera').addEventListener('change', onImage);
$('imageFile').addEventListener('change', onImage);
$('modelFile').addEventListener('change', onModelFile);
$('run').addEventListener('click', run);
$('maskBox').addEventListener('change', () => {
  $('clearMask').hidden = $('maskBox').value !== 'draw';
  if ($('maskBox').value === 'draw') {
    setStatus('Draw over the part to hide on the "Before" picture.', 'ready');
  } else {
    run();
  }
});
$('clearMask').addEventListener('click', () => {
  if (state.drawn) state.drawn.fill(0);
  run();
});
const before = $('before');
before.addEventListener('pointerdown', onDraw);
before.addEventListener('pointermove', onDraw);
before.addEventListener('pointerup', onDrawEnd);
before.addEventListener('pointerleave', onDrawEnd);

async function main() {
  state.runtime = loadLiteRt(WASM_DIR);
  try {
    await state.runtime;
  } catch (e) {
    fail(`Could not start LiteRT.js from ${WASM_DIR} (run export/mobile/setup.sh): ` +
         `${e.message || e}`);
    return;
  }
  const model = new URLSearchParams(location.search).get('model') || 'model.tflite';
  try {
    await loadModelFromUrl(model);
  } catch (e) {
    fail(e.message || String(e));
  }
}

main();

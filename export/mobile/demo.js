// The mobile face demo: finds the faces of a photo with BlazeFace, aligns each by its eyes,
// runs a face .tflite exported by tools/export_tflite.py on it (uint8 `image` [1, H, W, 3],
// plus uint8 `mask` [1, H, W, 1] with 255 = hole for inpainting; outputs uint8 `image`) with
// LiteRT.js, and pastes the result back into the photo. The same steps, constants and
// conventions as aign_tf/serving/face_demo.py and aign_tf/detectors/blazeface.py.
//
// State for tests and debugging is kept on `window.faceDemo` (faces, last input/output,
// latency).

import {loadLiteRt, loadAndCompile, Tensor} from '@litertjs/core';

const WASM_DIR = new URL('./vendor/litertjs/core/wasm/', import.meta.url).href;
// BlazeFace short range, copied beside the page by setup.sh (from the mediapipe wheel).
const DETECTOR_URL = './face_detection_short_range.tflite';
const MIN_SIDE = 16;  // Like aign_tf/serving/face_demo.py: smaller images hold no usable face.
const MAX_PIXELS = 50_000_000;  // Larger photos are refused (memory).
const TFLITE_IDENTIFIER = 'TFL3';  // FlatBuffer file identifier at bytes 4..8.
// Canonical eye centres of an aligned crop, fractions of its side, the image-left eye first
// (blazeface.DEFAULT_EYES).
const EYES = [[0.385, 0.51], [0.615, 0.51]];
// Inpainting boxes (width, height) in eye distances: masks.PART_BOXES over the procedural
// faces' eye spacing 0.28 (blazeface.part_box); centred on the keypoint of that part.
const PART_BOXES = {mouth: [0.34 / 0.28, 0.17 / 0.28], nose: [0.22 / 0.28, 0.22 / 0.28]};
const KEYPOINT = {mouth: 3, nose: 2};
// Pasting back (face_demo.py): a face oval (centre, half-axes; fractions of the side) with a
// FEATHER-wide ramp for super-resolution; the hidden box plus HOLE_MARGIN for inpainting.
const FACE_OVAL = [[0.5, 0.57], [0.25, 0.31]];
const FEATHER = 0.06;
const HOLE_MARGIN = 0.03;

const $ = (id) => document.getElementById(id);
const state = {
  runtime: null,   // Promise of the loaded LiteRT Wasm module.
  detector: null,  // Promise of the compiled BlazeFace model.
  model: null,     // CompiledModel.
  inputs: null,    // {image: {shape, dtype}, mask?: {...}}
  outputSize: 0,
  bitmap: null,    // The photo (ImageBitmap, upright).
  detections: null,  // BlazeFace's faces of the photo, in photo pixels.
  faces: null,     // Per face: the aligned crop at the model's output side and its geometry.
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
  $('run').disabled = !(state.model && state.faces);
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
  if (state.bitmap) {
    await prepareFaces(state.bitmap, state.name);
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

async function loadDetector() {
  const response = await fetch(DETECTOR_URL).catch(() => null);
  if (!response || !response.ok) {
    throw new Error(`Could not fetch the face detector ${DETECTOR_URL} ` +
                    '(export/mobile/setup.sh copies it beside the page).');
  }
  return loadAndCompile(new Uint8Array(await response.arrayBuffer()), {accelerator: 'wasm'});
}

// Face detection: BlazeFace short range (aign_tf/detectors/blazeface.py) ----------------------

const DETECTOR_SIDE = 128;

// SSD anchor centres of face_detection_short_range (aign_tf/detectors/anchors.py with
// BLAZEFACE_SHORT_RANGE): strides 8, 16, 16, 16 on a 128x128 input; layers sharing a stride
// share one feature map (16x16, then 8x8) and each layer adds 2 anchors per cell (aspect ratio
// 1 and the interpolated scale): 2 per cell on the 16x16 map, 6 on the 8x8 map, 896 in all,
// listed row by row, column by column. `fixed_anchor_size`: every anchor is 1 x 1, so only the
// centres matter.
const ANCHORS = (() => {
  const anchors = [];
  for (const [cells, perCell] of [[16, 2], [8, 6]]) {
    for (let y = 0; y < cells; y++) {
      for (let x = 0; x < cells; x++) {
        for (let k = 0; k < perCell; k++) anchors.push([(x + 0.5) / cells, (y + 0.5) / cells]);
      }
    }
  }
  return anchors;
})();

function iou(a, b) {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const area = (r) => Math.max(0, r[2] - r[0]) * Math.max(0, r[3] - r[1]);
  const union = area(a) + area(b) - w * h;
  return union > 0 ? w * h / union : 0;
}

// Regressors [896, 16] (x, y, w, h, then 6 keypoints' x, y; input pixels relative to the
// anchor) and score logits [896] -> faces normalised to the input: sigmoid score >= 0.5, then
// MediaPipe's weighted NMS at IoU 0.3 (a cluster's box and keypoints are the score-weighted
// means of its members; its score is the best one's). geometry.decode_detections/weighted_nms.
function decodeFaces(raw, logits, minScore = 0.5, iouThreshold = 0.3) {
  let found = [];
  ANCHORS.forEach(([ax, ay], i) => {
    const r = raw.subarray(16 * i, 16 * i + 16);
    const score = 1 / (1 + Math.exp(-Math.max(-100, Math.min(100, logits[i]))));
    const w = r[2] / DETECTOR_SIDE;
    const h = r[3] / DETECTOR_SIDE;
    if (score < minScore || w < 0 || h < 0) return;
    const cx = r[0] / DETECTOR_SIDE + ax;
    const cy = r[1] / DETECTOR_SIDE + ay;
    const keypoints = [];
    for (let k = 0; k < 6; k++) {
      keypoints.push([r[4 + 2 * k] / DETECTOR_SIDE + ax, r[5 + 2 * k] / DETECTOR_SIDE + ay]);
    }
    found.push({box: [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], keypoints, score});
  });
  found.sort((a, b) => b.score - a.score);
  const faces = [];
  while (found.length) {
    const best = found[0];
    const members = found.filter((f, i) => i === 0 || iou(best.box, f.box) > iouThreshold);
    const total = members.reduce((sum, f) => sum + f.score, 0);
    const mean = (get) => get(best).map((_, j) =>
        members.reduce((sum, f) => sum + f.score * get(f)[j], 0) / total);
    faces.push({box: mean((f) => f.box),
                keypoints: best.keypoints.map((_, k) => mean((f) => f.keypoints[k])),
                score: best.score});
    found = found.filter((f) => !members.includes(f));
  }
  return faces;
}

// The faces of `bitmap` in its pixels, best first. The whole photo is letterboxed into the
// 128x128 input (aspect kept, black padding, values in [-1, 1]).
async function detectFaces(bitmap) {
  const detector = await state.detector;
  const {width, height} = bitmap;
  const side = Math.max(width, height);
  const scale = DETECTOR_SIDE / side;
  const canvas = new OffscreenCanvas(DETECTOR_SIDE, DETECTOR_SIDE);
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, DETECTOR_SIDE, DETECTOR_SIDE);
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(bitmap, (DETECTOR_SIDE - width * scale) / 2, (DETECTOR_SIDE - height * scale) / 2,
                width * scale, height * scale);
  const rgba = ctx.getImageData(0, 0, DETECTOR_SIDE, DETECTOR_SIDE).data;
  const input = new Float32Array(DETECTOR_SIDE * DETECTOR_SIDE * 3);
  for (let i = 0; i < DETECTOR_SIDE * DETECTOR_SIDE; i++) {
    for (let c = 0; c < 3; c++) input[3 * i + c] = rgba[4 * i + c] / 127.5 - 1;
  }
  const tensor = new Tensor(input, [1, DETECTOR_SIDE, DETECTOR_SIDE, 3]);
  let outputs;
  try {
    outputs = await detector.run({input: tensor});
  } finally {
    tensor.delete();
  }
  const raw = outputs.regressors.toTypedArray();
  const logits = outputs.classificators.toTypedArray();
  for (const t of Object.values(outputs)) t.delete();
  // Normalised letterbox coordinates -> photo pixels.
  const toPhoto = ([x, y]) => [(x - 0.5) * side + width / 2, (y - 0.5) * side + height / 2];
  return decodeFaces(raw, logits).map((f) => ({
    box: [...toPhoto(f.box.slice(0, 2)), ...toPhoto(f.box.slice(2))],
    keypoints: f.keypoints.map(toPhoto), score: f.score}));
}

// Alignment and pasting back (blazeface.align, face_demo.py) ----------------------------------

// The similarity z -> a z + b (complex numbers: rotation, uniform scale, shift) taking the
// two eyes `from` onto `to`, as [a_re, a_im, b_re, b_im] (geometry.similarity_matrix).
function similarity(from, to) {
  const [sx, sy] = [from[1][0] - from[0][0], from[1][1] - from[0][1]];
  const [tx, ty] = [to[1][0] - to[0][0], to[1][1] - to[0][1]];
  const norm = sx * sx + sy * sy;
  const re = (tx * sx + ty * sy) / norm;
  const im = (ty * sx - tx * sy) / norm;
  return [re, im, to[0][0] - (re * from[0][0] - im * from[0][1]),
          to[0][1] - (im * from[0][0] + re * from[0][1])];
}

const inverse = ([re, im, bx, by]) => {
  const n = re * re + im * im;
  const [ir, ii] = [re / n, -im / n];
  return [ir, ii, -(ir * bx - ii * by), -(ii * bx + ir * by)];
};
const apply = ([re, im, bx, by], [x, y]) => [re * x - im * y + bx, im * x + re * y + by];
// Canvas setTransform(a, b, c, d, e, f) maps (x, y) to (a x + c y + e, b x + d y + f).
const setSimilarity = (ctx, [re, im, bx, by], f = 1) =>
    ctx.setTransform(re * f, im * f, -im * f, re * f, bx * f, by * f);

// Draws `bitmap` at (0, 0) with its edge pixels repeated outwards (Python's border =
// "replicate"), so a face at the photo's edge is not framed in black: edge rows, columns and
// corner pixels stretched out first, then the photo over them.
function drawReplicated(ctx, bitmap) {
  const {width: w, height: h} = bitmap;
  const far = 4 * Math.max(w, h);
  const strips = [
      [0, 0, w, 1, 0, -far, w, far], [0, h - 1, w, 1, 0, h, w, far],
      [0, 0, 1, h, -far, 0, far, h], [w - 1, 0, 1, h, w, 0, far, h],
      [0, 0, 1, 1, -far, -far, far, far], [w - 1, 0, 1, 1, w, -far, far, far],
      [0, h - 1, 1, 1, -far, h, far, far], [w - 1, h - 1, 1, 1, w, h, far, far]];
  for (const strip of strips) ctx.drawImage(bitmap, ...strip);
  ctx.drawImage(bitmap, 0, 0);
}

// The face cut from the photo so its eyes land on EYES in a `side` square: drawn through the
// similarity at `factor` x side (so one crop pixel covers at most about one photo pixel), then
// factor x factor blocks averaged. Returns RGBA pixels, the similarity (photo -> crop pixels)
// and the keypoints in crop pixels.
function alignFace(bitmap, face, side) {
  const eyes = face.keypoints.slice(0, 2);
  const transform = similarity(eyes, EYES.map(([x, y]) => [x * side, y * side]));
  const eyeDistance = Math.hypot(eyes[1][0] - eyes[0][0], eyes[1][1] - eyes[0][1]);
  const factor = Math.max(1, Math.ceil(eyeDistance / ((EYES[1][0] - EYES[0][0]) * side)));
  const big = side * factor;
  const canvas = new OffscreenCanvas(big, big);
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  ctx.imageSmoothingQuality = 'high';
  setSimilarity(ctx, transform, factor);
  drawReplicated(ctx, bitmap);
  const pixels = ctx.getImageData(0, 0, big, big).data;
  const rgba = new Uint8ClampedArray(side * side * 4);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      for (let c = 0; c < 4; c++) {
        let sum = 0;
        for (let v = 0; v < factor; v++) {
          for (let u = 0; u < factor; u++) {
            sum += pixels[((y * factor + v) * big + x * factor + u) * 4 + c];
          }
        }
        rgba[(y * side + x) * 4 + c] = Math.round(sum / (factor * factor));
      }
    }
  }
  return {rgba, transform, keypoints: face.keypoints.map((p) => apply(transform, p))};
}

// uint8 RGB [side*side*3] from RGBA [s*s*4] by averaging (s/side)^2 blocks (s a multiple of
// side): the SR task's renderer, average pooling.
function boxAverage(rgba, s, side) {
  const k = s / side;
  const out = new Uint8Array(side * side * 3);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let v = 0; v < k; v++) {
          for (let u = 0; u < k; u++) sum += rgba[((y * k + v) * s + x * k + u) * 4 + c];
        }
        out[(y * side + x) * 3 + c] = Math.round(sum / (k * k));
      }
    }
  }
  return out;
}

// The inpainting box of a part around its keypoint, sized by the eye distance
// (blazeface.part_box): [xmin, ymin, xmax, ymax] in the keypoints' pixels.
function partBox(keypoints, part) {
  const [e0, e1] = keypoints;
  const eyeDistance = Math.hypot(e1[0] - e0[0], e1[1] - e0[1]);
  const [w, h] = PART_BOXES[part].map((f) => f * eyeDistance / 2);
  const [cx, cy] = keypoints[KEYPOINT[part]];
  return [cx - w, cy - h, cx + w, cy + h];
}

// Blending weights in [0, 1] over a `side` crop: the face oval, or a box with a margin.
function ovalWeight(side) {
  const [[cx, cy], [ax, ay]] = FACE_OVAL;
  const weight = new Float32Array(side * side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const r = Math.hypot(((x + 0.5) / side - cx) / ax, ((y + 0.5) / side - cy) / ay);
      weight[y * side + x] = Math.min(1, Math.max(0, 1 - (r - 1) * Math.min(ax, ay) / FEATHER));
    }
  }
  return weight;
}

function boxWeight(side, [left, top, right, bottom], margin) {
  const weight = new Float32Array(side * side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const dx = Math.max(left - x - 0.5, x + 0.5 - right, 0);
      const dy = Math.max(top - y - 0.5, y + 0.5 - bottom, 0);
      weight[y * side + x] = Math.min(1, Math.max(0, 1 - Math.hypot(dx, dy) / margin));
    }
  }
  return weight;
}

// Draws the output crop (RGB or grey `channels`) into the photo canvas through the inverse
// similarity, blended by `weight` (the crop's alpha; the rest of the photo is untouched).
function pasteBack(photoCtx, output, channels, side, weight, transform) {
  const crop = new OffscreenCanvas(side, side);
  const pixels = new ImageData(side, side);
  for (let i = 0; i < side * side; i++) {
    for (let c = 0; c < 3; c++) {
      pixels.data[4 * i + c] = output[channels * i + (channels > 1 ? c : 0)];
    }
    pixels.data[4 * i + 3] = Math.round(255 * weight[i]);
  }
  crop.getContext('2d').putImageData(pixels, 0, 0);
  photoCtx.save();
  photoCtx.imageSmoothingQuality = 'high';
  setSimilarity(photoCtx, inverse(transform));
  photoCtx.drawImage(crop, 0, 0);
  photoCtx.restore();
}

// Image ---------------------------------------------------------------------------------------

async function decode(file) {
  try {
    return await createImageBitmap(file, {imageOrientation: 'from-image'});
  } catch (e) {
    throw new Error(`${file.name || 'The file'} is not an image this browser can read.`);
  }
}

// Checks the photo, finds its faces and aligns each at the model's output side.
async function prepareFaces(bitmap, name) {
  const {width, height} = bitmap;
  if (width * height > MAX_PIXELS) {
    throw new Error(`Image too large (${width}×${height}; at most ${MAX_PIXELS} pixels).`);
  }
  if (Math.min(width, height) < MIN_SIDE) {
    throw new Error(`Image too small (${width}×${height}; at least ${MIN_SIDE}×${MIN_SIDE}).`);
  }
  state.bitmap = bitmap;
  state.name = name;
  state.faces = null;
  setStatus('Looking for faces…');
  state.detections = await detectFaces(bitmap);
  faceDemo.faces = state.detections;
  if (!state.detections.length) {
    throw new Error(`No face found in ${name}. Try a photo where a face looks at the camera ` +
                    'and fills at least an eighth of the picture.');
  }
  if (!state.inputs) return;
  const side = state.outputSize;
  state.faces = state.detections.map((face) => alignFace(bitmap, face, side));
}

function maskFor(face, size) {
  const choice = $('maskBox').value;
  if (choice === 'draw') return {mask: state.drawn, box: null};
  const scale = size / state.outputSize;
  const box = partBox(face.keypoints.map(([x, y]) => [x * scale, y * scale]), choice);
  const [l, t, r, b] = box.map((v) => Math.min(size, Math.max(0, Math.round(v))));
  const mask = new Uint8Array(size * size);
  for (let y = t; y < b; y++) mask.fill(255, y * size + l, y * size + r);
  return {mask, box: box.map((v) => v / scale)};
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

// The model on one aligned face: {image, mask, shown, output, channels, weight, ms}.
async function runFace(face) {
  const size = state.inputs.image.shape[1];
  const outSize = state.outputSize;
  const image = boxAverage(face.rgba, outSize, size);
  const feeds = {image};
  const shown = image.slice();
  let weight;
  if (state.inputs.mask) {
    const {mask, box} = maskFor(face, size);
    feeds.mask = mask;
    for (let i = 0; i < size * size; i++) {
      if (mask[i] >= 128) shown.fill(0, 3 * i, 3 * i + 3);
    }
    // A drawn mask is blended as drawn (resampled, nearest, to the output side).
    weight = box ? boxWeight(outSize, box, HOLE_MARGIN * outSize) :
        Float32Array.from({length: outSize * outSize}, (_, i) => mask[
            Math.floor(Math.floor(i / outSize) * size / outSize) * size +
            Math.floor((i % outSize) * size / outSize)] / 255);
  } else {
    weight = ovalWeight(outSize);
  }
  const tensors = {};
  try {
    for (const [name, data] of Object.entries(feeds)) {
      tensors[name] = new Tensor(data, state.inputs[name].shape);
    }
    const start = performance.now();
    const results = await state.model.run(tensors);
    const ms = performance.now() - start;
    const output = new Uint8Array(results.image.toTypedArray());
    for (const t of Object.values(results)) t.delete();
    return {image, mask: feeds.mask, shown, output, weight, ms,
            channels: output.length / (outSize * outSize)};
  } finally {
    for (const t of Object.values(tensors)) t.delete();
  }
}

async function run() {
  if (!state.model || !state.faces || state.running) return;
  state.running = true;
  $('run').disabled = true;
  setStatus('Running…', 'running');
  const size = state.inputs.image.shape[1];
  const outSize = state.outputSize;
  try {
    const photo = $('photo');
    photo.width = state.bitmap.width;
    photo.height = state.bitmap.height;
    const photoCtx = photo.getContext('2d');
    photoCtx.drawImage(state.bitmap, 0, 0);
    const done = [];
    for (const face of state.faces) {
      const result = await runFace(face);
      pasteBack(photoCtx, result.output, result.channels, outSize, result.weight,
                face.transform);
      done.push(result);
    }
    $('photoPanel').hidden = false;
    // The panels show the best face.
    const [first] = done;
    const factor = Math.max(1, Math.round(outSize / size));
    draw($('before'), first.shown, size, 3, factor);
    draw($('after'), first.output, outSize, first.channels, 1);
    faceDemo.last = {inputSize: size, outputSize: outSize, channels: first.channels,
                     ms: first.ms, image: Array.from(first.image),
                     mask: first.mask ? Array.from(first.mask) : null,
                     output: Array.from(first.output),
                     aligned: Array.from(state.faces[0].rgba),
                     alignedKeypoints: state.faces[0].keypoints, faces: state.detections};
    faceDemo.runs = (faceDemo.runs || 0) + 1;
    const count = done.length === 1 ? '1 face' : `${done.length} faces`;
    const ms = done.reduce((sum, r) => sum + r.ms, 0) / done.length;
    setStatus(`Done: ${faceDemo.kind} of ${count}; the model ran in ${ms.toFixed(1)} ms ` +
              `${done.length === 1 ? '' : 'per face '}(on this device).`, 'done');
  } catch (e) {
    fail(`Running the model failed: ${e.message || e}`);
  } finally {
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
    await prepareFaces(await decode(file), file.name);
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
  state.detector = loadDetector();
  try {
    await state.detector;
  } catch (e) {
    fail(e.message || String(e));
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

"""Procedurally drawn faces: the face tasks' embedded default data (no download).

Each face is drawn from a few soft-edged shapes (head, hair, eyes, brows, nose, lips) in the
geometry of an aligned face crop (`GEOMETRY`, close to CelebA's aligned crops centre-cropped
to a square): eyes at y ~ 0.5, nose tip at y ~ 0.64, mouth at y ~ 0.75 of the image height.
Edges are anti-aliased analytically (coverage = clip(0.5 - d / pixel, 0, 1) with d the
approximate signed distance to the shape's outline), so a face renders consistently at any
resolution.

Attributes the biased-memory experiments control:
  identity   an integer; fixes head shape, eye spacing, colours, brows and skin *texture*
             (identity-dependent freckles and stubble: fine detail that k x k pooling averages
             away, so only a memory can put it back).
  lip_size   lip thickness multiplier (1 = the identity's own).
  nose_size  nose length/width multiplier.
  skin_tone  0 (light) .. 1 (dark); None keeps the identity's.
Per-sample variation (position, scale, lighting, mouth opening, noise) comes from the seed.

`draw_faces` returns uint8 images `[N, R, R, 3]`, the attributes actually used, and landmarks
(`LANDMARKS` order, pixel coordinates x, y) for mask placement.
"""

import numpy as np

# Landmark names, in the order of the `landmarks` arrays.
LANDMARKS = ("left_eye", "right_eye", "nose", "mouth")
# Mean positions in an aligned square face crop, as fractions of (width, height).
GEOMETRY = {"left_eye": (0.36, 0.50), "right_eye": (0.64, 0.50), "nose": (0.50, 0.64),
            "mouth": (0.50, 0.755)}

_SKIN_LIGHT = np.array([0.96, 0.80, 0.69])
_SKIN_DARK = np.array([0.36, 0.23, 0.15])


def identity_params(identity):
  """The fixed traits of one synthetic person (a pure function of the integer id)."""
  rng = np.random.default_rng([7919, int(identity)])
  return {
      "face_width": rng.uniform(0.28, 0.34),
      "face_height": rng.uniform(0.38, 0.44),
      "eye_spacing": rng.uniform(0.12, 0.15),
      "eye_size": rng.uniform(0.040, 0.055),
      "iris": rng.uniform(0.05, 0.55, size=3),
      "brow_thickness": rng.uniform(0.010, 0.030),
      "brow_tilt": rng.uniform(-0.02, 0.02),
      "hair": rng.uniform(0.02, 0.6) * np.array([1.0, rng.uniform(0.6, 0.9),
                                                   rng.uniform(0.3, 0.7)]),
      "hairline": rng.uniform(0.20, 0.30),
      "skin_tone": rng.uniform(0.0, 1.0),
      "lip_colour": np.array([rng.uniform(0.55, 0.8), rng.uniform(0.15, 0.3),
                              rng.uniform(0.2, 0.35)]),
      "lip_thickness": rng.uniform(0.018, 0.028),
      "mouth_width": rng.uniform(0.08, 0.11),
      "nose_length": rng.uniform(0.08, 0.11),
      "nose_width": rng.uniform(0.035, 0.05),
      "background": rng.uniform(0.2, 0.9, size=3),
      # Fine texture: freckle density and stubble strength, the detail pooling removes.
      "freckles": rng.choice([0.0, rng.uniform(0.5, 1.0)]),
      "stubble": rng.choice([0.0, rng.uniform(0.5, 1.0)]),
      "texture_seed": int(rng.integers(1 << 30)),
  }


def _coverage(distance, pixel):
  """Anti-aliased coverage of a shape from a signed distance (negative inside)."""
  return np.clip(0.5 - distance / pixel, 0.0, 1.0)


def _ellipse(x, y, cx, cy, a, b, pixel):
  q = np.sqrt(((x - cx) / a) ** 2 + ((y - cy) / b) ** 2)
  return _coverage((q - 1.0) * min(a, b), pixel)


def _blend(canvas, alpha, colour):
  alpha = alpha[..., None]
  canvas *= 1.0 - alpha
  canvas += alpha * np.asarray(colour)


def _draw_one(resolution, params, lip_size, nose_size, skin_tone, rng):
  """One face as float `[R, R, 3]` in [0, 1] and its landmarks `[4, 2]` (pixels)."""
  r = resolution
  pixel = 1.0 / r
  coords = (np.arange(r) + 0.5) / r
  x, y = np.meshgrid(coords, coords)
  # Per-sample pose and lighting.
  dx, dy = rng.normal(0.0, 0.012, size=2)
  scale = 1.0 + rng.normal(0.0, 0.03)
  light = 1.0 + rng.normal(0.0, 0.06)
  light_dir = rng.normal(0.0, 0.15)
  open_mouth = max(0.0, rng.normal(0.1, 0.3))

  def px(fx, fy):
    return 0.5 + (fx - 0.5) * scale + dx, 0.5 + (fy - 0.5) * scale + dy

  skin = _SKIN_LIGHT + (_SKIN_DARK - _SKIN_LIGHT) * float(np.clip(skin_tone, 0.0, 1.0))
  canvas = np.empty((r, r, 3))
  canvas[:] = params["background"] * (0.9 + 0.2 * y[..., None])

  # Hair behind the head, head, then hair over the forehead.
  cx, cy = px(0.5, 0.55)
  fw, fh = params["face_width"] * scale, params["face_height"] * scale
  _blend(canvas, _ellipse(x, y, cx, cy - 0.03, fw * 1.12, fh * 1.05, pixel), params["hair"])
  head = _ellipse(x, y, cx, cy, fw, fh, pixel)
  shade = 1.0 + light_dir * (x - cx) / fw
  _blend(canvas, head, skin * light)
  canvas *= (1.0 + (shade - 1.0) * head)[..., None]
  hair_edge = cy - fh + params["hairline"] * scale
  fringe = head * _coverage(y - hair_edge + 0.02 * np.cos((x - cx) * 18.0), pixel)
  _blend(canvas, fringe, params["hair"])

  # Skin texture: freckles (dark dots) and stubble (fine dark grain on the lower face).
  texture_rng = np.random.default_rng(params["texture_seed"])
  if params["freckles"] > 0:
    spots = texture_rng.uniform(size=(40, 2))
    spots = np.stack([cx + (spots[:, 0] - 0.5) * 1.2 * fw,
                      cy + (spots[:, 1] - 0.55) * 0.5 * fh], axis=1)
    for sx, sy in spots:
      dot = _ellipse(x, y, sx, sy, 0.008 * scale, 0.008 * scale, pixel) * head
      _blend(canvas, 0.6 * params["freckles"] * dot, skin * 0.45)
  if params["stubble"] > 0:
    period = 0.018
    grain = 0.5 + 0.5 * np.sin((x - cx) / period * 2 * np.pi) * np.sin(
        (y - cy) / period * 2 * np.pi)
    jaw = head * _coverage(cy + 0.12 * scale - y, pixel * 4)
    _blend(canvas, 0.5 * params["stubble"] * jaw * grain, skin * 0.35)

  # Eyes and brows.
  landmarks = []
  for side in (-1.0, 1.0):
    ex, ey = px(0.5 + side * params["eye_spacing"], 0.50)
    landmarks.append((ex, ey))
    es = params["eye_size"] * scale
    _blend(canvas, _ellipse(x, y, ex, ey, es, es * 0.55, pixel), (0.97, 0.97, 0.95))
    _blend(canvas, _ellipse(x, y, ex, ey, es * 0.5, es * 0.5, pixel), params["iris"])
    _blend(canvas, _ellipse(x, y, ex, ey, es * 0.22, es * 0.22, pixel), (0.02, 0.02, 0.02))
    by = ey - es * 1.3 + side * params["brow_tilt"]
    _blend(canvas, _ellipse(x, y, ex, by, es * 1.2, params["brow_thickness"] * scale, pixel),
           params["hair"] * 0.8)

  # Nose: a shaded wedge with two nostrils.
  nx, ny = px(0.5, 0.64)
  length = params["nose_length"] * nose_size * scale
  width = params["nose_width"] * nose_size * scale
  ridge = _ellipse(x, y, nx, ny - length * 0.5, width * 0.55, length * 0.75, pixel)
  _blend(canvas, 0.35 * ridge, skin * 0.7)
  for side in (-1.0, 1.0):
    _blend(canvas, _ellipse(x, y, nx + side * width * 0.45, ny, width * 0.28, width * 0.18,
                            pixel), skin * 0.3)
  landmarks.append((nx, ny))

  # Lips: upper and lower lip ellipses around a dark mouth opening.
  mx, my = px(0.5, 0.755)
  mw = params["mouth_width"] * scale * (0.85 + 0.15 * lip_size)
  thick = params["lip_thickness"] * lip_size * scale
  gap = 0.004 + 0.012 * open_mouth * scale
  _blend(canvas, _ellipse(x, y, mx, my - gap / 2 - thick * 0.5, mw, thick, pixel),
         params["lip_colour"] * light)
  _blend(canvas, _ellipse(x, y, mx, my + gap / 2 + thick * 0.6, mw * 0.9, thick * 1.15,
                          pixel), params["lip_colour"] * light * 1.05)
  _blend(canvas, _ellipse(x, y, mx, my, mw * 0.8, gap / 2 + 0.3 * pixel, pixel),
         (0.25, 0.05, 0.05))
  landmarks.append((mx, my))

  canvas += rng.normal(0.0, 0.01, size=canvas.shape)
  return np.clip(canvas, 0.0, 1.0), np.array(landmarks) * r


def draw_faces(num_faces, resolution=64, identities=(0,), lip_size=(0.8, 1.2),
               nose_size=(0.8, 1.2), skin_tone=None, seed=0):
  """Draws `num_faces` synthetic faces.

  Args:
    num_faces: N.
    resolution: image side R in pixels.
    identities: ids to draw from (uniformly); a range of many ids gives a diverse crowd.
    lip_size: a number, or a (low, high) range sampled uniformly per face.
    nose_size: the same for the nose.
    skin_tone: None (each identity's own), a number in [0, 1], or a (low, high) range.
    seed: per-sample variation seed.

  Returns:
    dict with "images" uint8 `[N, R, R, 3]`, "identity" int `[N]`, "lip_size",
    "nose_size", "skin_tone" float `[N]` and "landmarks" float `[N, 4, 2]` (x, y pixels in
    `LANDMARKS` order).
  """
  rng = np.random.default_rng(seed)
  identities = [int(i) for i in np.atleast_1d(identities)]
  if not identities:
    raise ValueError("draw_faces: identities is empty")

  def sample(value, default):
    if value is None:
      return default
    value = np.atleast_1d(np.asarray(value, np.float64))
    return float(value[0]) if len(value) == 1 else float(rng.uniform(value[0], value[1]))

  cache = {}
  out = {"images": np.empty((num_faces, resolution, resolution, 3), np.uint8),
         "identity": np.empty(num_faces, np.int64), "lip_size": np.empty(num_faces),
         "nose_size": np.empty(num_faces), "skin_tone": np.empty(num_faces),
         "landmarks": np.empty((num_faces, len(LANDMARKS), 2), np.float32)}
  for i in range(num_faces):
    identity = identities[int(rng.integers(len(identities)))]
    if identity not in cache:
      cache[identity] = identity_params(identity)
    params = cache[identity]
    lips, nose = sample(lip_size, 1.0), sample(nose_size, 1.0)
    tone = sample(skin_tone, params["skin_tone"])
    image, landmarks = _draw_one(resolution, params, lips, nose, tone, rng)
    out["images"][i] = np.round(image * 255.0).astype(np.uint8)
    out["identity"][i], out["lip_size"][i] = identity, lips
    out["nose_size"][i], out["skin_tone"][i] = nose, tone
    out["landmarks"][i] = landmarks
  return out

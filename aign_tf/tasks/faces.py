"""The face tasks (Tung et al. 2017, Sec. 4.3): super-resolution and inpainting with a memory.

faces_sr: G maps a low-resolution face x `[B, R/k, R/k, 3]` to a high-resolution face y
`[B, R, R, 3]`; the renderer is k x k average pooling (`renderers.Downsample`), so the
reconstruction loss ties y's block means to x and the discriminator, trained on the memory
faces, decides everything inside the blocks.

faces_inpaint: G maps a masked face and its mask `[B, R, R, 4]` to a full face; the renderer
multiplies by the visibility mask (`renderers.Masking`), the reconstruction loss is L2 on the
visible pixels, and the memory decides what fills the hole.

Data come from face set specs (`aign_tf.data.faces`): `inputs` (what G sees), `memory` (what
D sees as real) and `eval` (held-out faces with ground truth). The three never share an
image (checked). The default specs draw procedural faces (`faces_synthetic`), so the tasks
run with no download; a biased memory is a different spec (one identity, big lips, a CelebA
attribute expression, one person's video frames). With `manifest_dir` set, each set's
manifest (spec, pixel checksum, the origin of every image) is written there.

Metrics (per example, averaged by the evaluator):
  SR:      lr_psnr (PSNR of pool(y) against x: consistency with the input), psnr / ssim
           against the ground truth, bicubic_psnr / bicubic_ssim (the bicubic baseline).
  Inpaint: visible_psnr (consistency on visible pixels), hole_psnr / psnr of the composite
           m x + (1 - m) y against the ground truth, mean_fill_hole_psnr and, with OpenCV
           installed, opencv_hole_psnr (Telea inpainting) as baselines.
`bias_score` (a function) is the fraction of outputs an independent classifier assigns to the
memory's class; experiments/faces_bias.py uses it. Export (uint8 images in and out):
`aign_tf.tasks.faces_export`.
"""

import os

from absl import logging
import numpy as np
import tensorflow as tf

from aign_tf import errors
from aign_tf.core import imaging
from aign_tf.core import keys
from aign_tf.data import faces
from aign_tf.data import masks as masks_lib
from aign_tf.data import pipeline
from aign_tf.renderers import downsample
from aign_tf.renderers import masking
from aign_tf.tasks import base

DEFAULT_INPUTS = {"source": "synthetic", "count": 2000, "identities": {"start": 0,
                                                                          "stop": 100},
                  "seed": 1}
DEFAULT_MEMORY = {"source": "synthetic", "count": 2000, "identities": {"start": 0,
                                                                          "stop": 100},
                  "seed": 2}
DEFAULT_EVAL = {"source": "synthetic", "count": 128, "identities": {"start": 0, "stop": 100},
                "seed": 3}


# Metrics ----------------------------------------------------------------------------------

# One PSNR for the package (`aign_tf.core.imaging.psnr`), per example `[B]`.
psnr = imaging.psnr


def ssim(reference, image):
  """Per-example SSIM `[B]` (TensorFlow's Gaussian-window SSIM, max value 1)."""
  reference = tf.convert_to_tensor(np.asarray(reference, np.float32))
  image = tf.convert_to_tensor(np.asarray(image, np.float32))
  size = min(11, int(reference.shape[1]), int(reference.shape[2]))
  return tf.image.ssim(reference, image, max_val=1.0, filter_size=size).numpy()


def bicubic_upsample(images, scale):
  """Bicubic upsampling `[B, h, w, C] -> [B, kh, kw, C]`, clipped to [0, 1]."""
  images = tf.convert_to_tensor(np.asarray(images, np.float32))
  size = tf.shape(images)[1:3] * scale
  return np.clip(tf.image.resize(images, size, method="bicubic").numpy(), 0.0, 1.0)


def back_projection(low, scale, iterations=30):
  """Bicubic upsampling refined by iterative back-projection (Irani and Peleg 1991): the
  pooled residual `low - pool(y)` is upsampled bicubically and added, `iterations` times,
  so the result satisfies the k x k pooling renderer. A consistency-only baseline (no prior)
  for SR, `[B, h, w, C] -> [B, kh, kw, C]` in [0, 1]."""
  low = np.asarray(low, np.float32)
  images = bicubic_upsample(low, scale)
  for _ in range(int(iterations)):
    residual = low - downsample.average_pool(tf.constant(images), scale).numpy()
    correction = tf.image.resize(residual, np.array(residual.shape[1:3]) * scale,
                                 method="bicubic").numpy()  # signed: not clipped
    images = np.clip(images + correction, 0.0, 1.0)
  return images


def mean_fill(images, visibility):
  """Fills holes with each image's mean visible colour (the simplest inpainting baseline)."""
  images = np.asarray(images, np.float64)
  visibility = np.asarray(visibility, np.float64)
  mean = ((images * visibility).sum(axis=(1, 2), keepdims=True) /
          np.maximum(visibility.sum(axis=(1, 2), keepdims=True), 1e-12))
  return images * visibility + mean * (1.0 - visibility)


def opencv_inpaint(images, visibility, radius=3):
  """OpenCV's Telea inpainting of the holes, or None when OpenCV is not installed."""
  try:
    import cv2  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None
  out = np.empty(np.shape(images), np.float64)
  for i, (image, mask) in enumerate(zip(images, visibility)):
    image8 = np.clip(np.round(np.asarray(image) * 255.0), 0, 255).astype(np.uint8)
    hole = (np.asarray(mask)[..., 0] < 0.5).astype(np.uint8) * 255
    out[i] = cv2.inpaint(image8, hole, radius, cv2.INPAINT_TELEA) / 255.0
  return out


def bias_score(classifier, images, memory_class):
  """Fraction of `images` that `classifier` (images `[B, H, W, 3]` -> class ids `[B]`)
  assigns to `memory_class`."""
  predicted = np.asarray(classifier(np.asarray(images, np.float32)))
  return float(np.mean(predicted == memory_class))


def to_float(images):
  return tf.cast(images, tf.float32) / 255.0


def upsample_nearest(image, scale):
  return np.repeat(np.repeat(np.asarray(image), scale, axis=0), scale, axis=1)


# Shared task plumbing ---------------------------------------------------------------------

class _FaceTask(base.Task):
  """Builds the inputs / memory / eval face sets once, checks they are disjoint, writes
  their manifests."""

  def __init__(self, resolution, inputs, memory, eval_faces, manifest_dir, num_images,
               max_count):
    if int(resolution) < 8:
      raise errors.ConfigError(f"{type(self).__name__}.resolution must be >= 8, got "
                               f"{resolution}")
    self.resolution = int(resolution)
    self.specs = {"inputs": inputs or DEFAULT_INPUTS, "memory": memory or DEFAULT_MEMORY,
                  "eval": eval_faces or DEFAULT_EVAL}
    if max_count is not None:
      self.specs = {role: dict(spec, count=min(int(spec.get("count") or max_count),
                                               int(max_count)))
                    for role, spec in self.specs.items()}
    self.manifest_dir = manifest_dir
    self.num_images = int(num_images)
    self._sets = None

  def face_sets(self):
    """dict role -> `faces.FaceSet` (built on first use)."""
    if self._sets is None:
      sets = {role: faces.build(spec, self.resolution, seed=index)
              for index, (role, spec) in enumerate(self.specs.items())}
      faces.check_disjoint(sets)
      for role, face_set in sets.items():
        logging.info("%s %s faces: %d images, pixels sha256 %s, spec %s", self.name, role,
                     len(face_set), face_set.digest(), face_set.spec)
        if self.manifest_dir:
          faces.write_manifest(os.path.join(self.manifest_dir, f"{role}_manifest.json"),
                               face_set, role)
      self._sets = sets
    return self._sets

  def _memory(self):
    """(dataset of memory faces as float, their number) for `pipeline.training_stream`."""
    memory = self.face_sets()["memory"].images
    return tf.data.Dataset.from_tensor_slices(memory).map(to_float), len(memory)

  def _memory_thumbnails(self, count):
    memory = self.face_sets()["memory"].images
    return [memory[i] for i in np.linspace(0, len(memory) - 1, count).astype(int)]


# Super-resolution -------------------------------------------------------------------------

@base.register_task
class FaceSRTask(_FaceTask):
  """Face super-resolution: low-resolution faces in, high-resolution faces out.

  Args:
    resolution: high-resolution side R (divisible by `scale`).
    scale: pooling factor k of the renderer; inputs are R/k x R/k.
    grayscale: the inputs are the luma of the pooled faces `[B, R/k, R/k, 1]` (use with
      `renderers.Downsample.grayscale = True`).
    inputs / memory / eval_faces: face set specs (None: the synthetic defaults).
    manifest_dir: where to write `<role>_manifest.json` (None: not written).
    num_images: rows of the picture grid.
    max_count: caps every set's `count` (smoke tests; None: the specs' counts).
  """

  name = "faces_sr"

  def __init__(self, resolution=128, scale=4, grayscale=False, inputs=None, memory=None,
               eval_faces=None, manifest_dir=None, num_images=4, max_count=None):
    super().__init__(resolution, inputs, memory, eval_faces, manifest_dir, num_images,
                     max_count)
    if int(scale) < 1 or self.resolution % int(scale):
      raise errors.ConfigError(f"tasks.FaceSRTask.resolution {resolution} must be divisible "
                               f"by scale {scale}")
    self.scale = int(scale)
    self.grayscale = bool(grayscale)
    # The inputs are rendered by the model's renderer (bind both with the macro
    # `sr_grayscale` in gin/faces_sr.gin, so they cannot disagree).
    self._renderer = downsample.Downsample(factor=self.scale, grayscale=self.grayscale)

  def render(self, images):
    """The renderer's map (`renderers.Downsample`: pool, optionally of the luma) on float
    images."""
    return self._renderer(images)

  def _examples(self, images, with_target):
    def example(image):
      high = to_float(image)
      out = {keys.OBSERVATION: self.render(high)}
      if with_target:
        out[keys.TARGET] = high
        out[keys.TARGET_MASK] = tf.constant(1.0)
      return out
    return tf.data.Dataset.from_tensor_slices(images).map(example)

  def train_dataset(self, batch_size, seed=0, with_memory=True):
    inputs = self.face_sets()["inputs"].images
    return pipeline.training_stream(self._examples(inputs, False), len(inputs), batch_size,
                                    seed, memory=self._memory if with_memory else None,
                                    memory_seed=seed + 3)

  def eval_dataset(self, batch_size, split="eval"):
    if split not in ("eval", "train"):
      raise errors.ConfigError(f"FaceSRTask has splits 'eval' and 'train', not {split!r}")
    images = self.face_sets()["eval" if split == "eval" else "inputs"].images
    return self._examples(images, True).batch(batch_size)

  def metrics(self, batch, prediction):
    observation = np.asarray(batch[keys.OBSERVATION])
    prediction = np.asarray(prediction)
    out = {"lr_psnr": psnr(observation, self.render(prediction).numpy())}
    if keys.TARGET in batch:
      target = np.asarray(batch[keys.TARGET])
      out["psnr"] = psnr(target, prediction)
      out["ssim"] = ssim(target, prediction)
      if not self.grayscale:
        bicubic = bicubic_upsample(observation, self.scale)
        out["bicubic_psnr"] = psnr(target, bicubic)
        out["bicubic_ssim"] = ssim(target, bicubic)
    return out

  def images(self, batch, prediction):
    """One grid: input (box-upsampled) | output | ground truth | a memory sample."""
    count = min(self.num_images, len(batch[keys.OBSERVATION]))
    memory = self._memory_thumbnails(count)
    rows = []
    for i in range(count):
      row = [upsample_nearest(batch[keys.OBSERVATION][i], self.scale), prediction[i]]
      if keys.TARGET in batch:
        row.append(batch[keys.TARGET][i])
      row.append(memory[i])
      rows.append(row)
    return {"faces_sr": imaging.grid(rows)}


# Inpainting -------------------------------------------------------------------------------

@base.register_task
class FaceInpaintTask(_FaceTask):
  """Face inpainting: a face with a hole (and the hole mask) in, a completed face out.

  Args:
    resolution: image side R.
    mask: "mouth", "nose", "random" or "file" (see `aign_tf.data.masks`).
    mask_paths: mask PNGs for `mask="file"` (white = hole, R x R).
    mask_scale: multiplies the mouth/nose box size.
    random_size: (low, high) box side fraction for `mask="random"`.
    inputs / memory / eval_faces / manifest_dir / num_images / max_count: as in
      `FaceSRTask`.
  """

  name = "faces_inpaint"

  def __init__(self, resolution=64, mask="mouth", mask_paths=(), mask_scale=1.0,
               random_size=(0.2, 0.45), inputs=None, memory=None, eval_faces=None,
               manifest_dir=None, num_images=4, max_count=None):
    super().__init__(resolution, inputs, memory, eval_faces, manifest_dir, num_images,
                     max_count)
    if mask not in masks_lib.KINDS:
      raise errors.ConfigError(f"tasks.FaceInpaintTask.mask {mask!r} is unknown; use one of "
                               f"{masks_lib.KINDS}")
    self.mask = mask
    self.mask_paths = tuple(mask_paths) if not isinstance(mask_paths, str) else (mask_paths,)
    self.mask_scale = float(mask_scale)
    self.random_size = tuple(random_size)

  def _masks(self, face_set, seed):
    return masks_lib.make_masks(self.mask, len(face_set), self.resolution,
                                landmarks=face_set.landmarks, seed=seed,
                                paths=self.mask_paths, scale=self.mask_scale,
                                random_size=self.random_size)

  @staticmethod
  def observe(images, visibility):
    """(generator input `[B, R, R, 4]`, masked image `[B, R, R, 3]`)."""
    masked = masking.apply_mask(images, visibility)
    return tf.concat([masked, tf.cast(visibility, masked.dtype)], axis=-1), masked

  def _examples(self, face_set, seed, with_target):
    visibility = self._masks(face_set, seed)

    def example(image, mask):
      full = to_float(image)
      observation, masked = self.observe(full, mask)
      out = {keys.OBSERVATION: observation, keys.RECONSTRUCTION_TARGET: masked,
             keys.CONTEXT: {masking.VISIBILITY: mask}}
      if with_target:
        out[keys.TARGET] = full
        out[keys.TARGET_MASK] = tf.constant(1.0)
      return out
    return tf.data.Dataset.from_tensor_slices((face_set.images, visibility)).map(example)

  def train_dataset(self, batch_size, seed=0, with_memory=True):
    inputs = self.face_sets()["inputs"]
    return pipeline.training_stream(self._examples(inputs, seed, False), len(inputs),
                                    batch_size, seed,
                                    memory=self._memory if with_memory else None,
                                    memory_seed=seed + 3)

  def eval_dataset(self, batch_size, split="eval"):
    if split not in ("eval", "train"):
      raise errors.ConfigError(f"FaceInpaintTask has splits 'eval' and 'train', not {split!r}")
    face_set = self.face_sets()["eval" if split == "eval" else "inputs"]
    return self._examples(face_set, 1000, True).batch(batch_size)

  def metrics(self, batch, prediction):
    visibility = np.asarray(batch[keys.CONTEXT][masking.VISIBILITY])
    masked = np.asarray(batch[keys.RECONSTRUCTION_TARGET])
    prediction = np.asarray(prediction)
    out = {"visible_psnr": psnr(masked, prediction * visibility, visibility)}
    if keys.TARGET in batch:
      target = np.asarray(batch[keys.TARGET])
      hole = 1.0 - visibility
      composite = masked + prediction * hole
      out["psnr"] = psnr(target, composite)
      out["hole_psnr"] = psnr(target, composite, hole)
      out["mean_fill_hole_psnr"] = psnr(target, mean_fill(masked, visibility), hole)
      telea = opencv_inpaint(masked, visibility)
      if telea is not None:
        out["opencv_hole_psnr"] = psnr(target, telea, hole)
    return out

  def images(self, batch, prediction):
    """One grid: input (masked) | output | composite | ground truth | a memory sample."""
    count = min(self.num_images, len(batch[keys.OBSERVATION]))
    memory = self._memory_thumbnails(count)
    visibility = np.asarray(batch[keys.CONTEXT][masking.VISIBILITY])
    rows = []
    for i in range(count):
      masked = np.asarray(batch[keys.RECONSTRUCTION_TARGET][i])
      composite = masked + np.asarray(prediction[i]) * (1.0 - visibility[i])
      row = [masked, prediction[i], composite]
      if keys.TARGET in batch:
        row.append(batch[keys.TARGET][i])
      row.append(memory[i])
      rows.append(row)
    return {"faces_inpaint": imaging.grid(rows)}

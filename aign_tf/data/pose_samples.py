"""The pose task's real samples: LAFAN1 BVH clips (bvhtools sdist) and DeepMimic clips (pybullet).

`fetch(cache_dir)` downloads `bvhtools==1.6.0` (sdist) and `pybullet==3.2.7` (wheel) with pip,
checks their pinned SHA-256, runs forward kinematics and writes `<cache>/pose/<clip>.npz`
(`poses` `[T, 17, 3]` metres y up, in the layout of `aign_tf.core.skeleton`, and `fps`)
plus `manifest.json` with checksums. `load(cache_dir)` returns the converted clips, or None
when nothing was fetched (the task then uses its embedded procedural clips).

The LAFAN1 clips are CC BY-NC-ND 4.0: converted copies stay in the local cache.

Splits (`SPLITS`; a clip is a file or a frame range of one, never shared between splits):
  memory: lafan_test frames [0, 3600) and the 15 DeepMimic clips
  train:  lafan_test frames [3600, end)   (2D inputs are made from these)
  eval:   lafan_test2                      (the held-out real clip)
"""

import os
import tarfile
import tempfile
import zipfile

import numpy as np

from aign_tf import errors
from aign_tf.data import samples
from aign_tf.data.mocap import bvh
from aign_tf.data.mocap import deepmimic

TASK = "pose"
BVHTOOLS = ("bvhtools==1.6.0", False,
            "840c67a4d94c4c4732d1a729eac0ba6b0cad7c334aed2773ea2ff15ffe64c144")
PYBULLET = ("pybullet==3.2.7", True,
            "5d858abf7c12a21ef3ed351cf81dac1b5e486ec25c9ab59bfc84beb89034edff")
LAFAN = {"lafan_test": "bvhtools-1.6.0/testBvhFiles/test.bvh",
         "lafan_test2": "bvhtools-1.6.0/testBvhFiles/test2.bvh"}
DEEPMIMIC_PREFIX = "pybullet_data/data/motions/humanoid3d_"
LAFAN_MEMORY_FRAMES = 3600

SPLITS = {
    "memory": [("lafan_test", 0, LAFAN_MEMORY_FRAMES), ("deepmimic_*", 0, None)],
    "train": [("lafan_test", LAFAN_MEMORY_FRAMES, None)],
    "eval": [("lafan_test2", 0, None)],
}


def task_dir(cache_dir=None):
  return samples.task_dir(TASK, cache_dir)


def fetch(cache_dir=None, force=False):
  """Downloads, converts and checksums the pose samples; returns the manifest."""
  out = task_dir(cache_dir)
  manifest = samples.reusable_manifest(out, force)
  if manifest is not None:
    return manifest
  downloads = os.path.join(cache_dir or samples.default_cache_dir(), "downloads")
  os.makedirs(out, exist_ok=True)
  files, sources = [], {}

  def save(name, poses, fps):
    np.savez(os.path.join(out, f"{name}.npz"), poses=poses.astype(np.float32),
             fps=np.float32(fps))
    files.append(f"{name}.npz")

  requirement, binary, digest = BVHTOOLS
  path = samples.pip_download(requirement, downloads, binary, digest)
  sources[requirement] = {"file": os.path.basename(path), "sha256": digest}
  with tempfile.TemporaryDirectory() as tmp, tarfile.open(path) as archive:
    for name, member in LAFAN.items():
      try:
        archive.extract(member, tmp, filter="data")
      except TypeError:  # Python without extraction filters (< 3.10.12 / 3.11.4).
        archive.extract(member, tmp)
      poses = bvh.load_bvh_poses(os.path.join(tmp, member), units="cm", up_axis="y",
                                 source="lafan")
      save(name, poses, 30.0)

  requirement, binary, digest = PYBULLET
  path = samples.pip_download(requirement, downloads, binary, digest)
  sources[requirement] = {"file": os.path.basename(path), "sha256": digest}
  with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(path) as archive:
    members = sorted(m for m in archive.namelist() if m.startswith(DEEPMIMIC_PREFIX))
    for member in members:
      archive.extract(member, tmp)
      clip = member[len(DEEPMIMIC_PREFIX):-len(".txt")]
      save(f"deepmimic_{clip}", deepmimic.load_deepmimic(os.path.join(tmp, member)), 30.0)
  return samples.write_manifest(out, sources, files)


def load(cache_dir=None):
  """Returns dict clip name -> poses `[T, 17, 3]` from the cache, or None if not fetched."""
  directory = task_dir(cache_dir)
  manifest = samples.read_manifest(directory)
  if manifest is None:
    return None
  clips = {}
  for name in manifest["files"]:
    with np.load(os.path.join(directory, name)) as data:
      clips[name[:-len(".npz")]] = data["poses"]
  return clips


def split(clips, name):
  """The clips of split `name` ("memory", "train", "eval") per `SPLITS`."""
  if name not in SPLITS:
    raise errors.ConfigError(f"unknown pose sample split {name!r}; known: {sorted(SPLITS)}")
  selected = {}
  for pattern, start, stop in SPLITS[name]:
    names = ([n for n in clips if n.startswith(pattern[:-1])] if pattern.endswith("*")
             else [pattern])
    for clip in sorted(names):
      if clip not in clips:
        raise errors.DataError(f"pose samples: clip {clip!r} is missing from the cache")
      key = clip if (start, stop) == (0, None) else f"{clip}[{start}:{stop or ''}]"
      selected[key] = clips[clip][start:stop]
  return selected

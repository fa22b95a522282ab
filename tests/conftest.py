"""pytest options: tests marked `slow` run only with --runslow.

The README's test command (which .ci/run calls) does not pass --runslow: the default suite
must stay under about 15 minutes on 2 cores. No test is marked slow today; long runs live in
benchmarks/ and experiments/.
"""

import os
import tempfile

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Generated data (e.g. sfm's ray-cast scenes) goes to a throw-away cache, never ~/.cache.
os.environ.setdefault("AIGN_TF_CACHE", tempfile.mkdtemp(prefix="aign_tf_test_cache_"))


def pytest_addoption(parser):
  parser.addoption("--runslow", action="store_true", default=False,
                   help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
  if config.getoption("--runslow"):
    return
  skip = pytest.mark.skip(reason="slow: run with --runslow")
  for item in items:
    if "slow" in item.keywords:
      item.add_marker(skip)

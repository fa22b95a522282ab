"""Package-level properties: light imports, no tensorflow-addons anywhere."""

import os
import re
import subprocess
import sys

from aign_tf import testing


class PackageTest(testing.TestCase):

  def test_import_does_not_load_tf_graphics_or_addons(self):
    code = ("import sys, aign_tf, aign_tf.models, aign_tf.train.trainer, "
            "aign_tf.configurables\n"
            "aign_tf.configurables.register_all()\n"
            "print(sorted(m for m in sys.modules if m.startswith(('tensorflow_graphics', "
            "'tensorflow_addons'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=testing.REPO_DIR, timeout=300)
    self.assertEqual(out.returncode, 0, out.stderr[-2000:])
    self.assertEqual(out.stdout.strip().splitlines()[-1], "[]")

  def test_plain_import_does_not_load_tensorflow(self):
    out = subprocess.run([sys.executable, "-c",
                          "import sys, aign_tf; print('tensorflow' in sys.modules)"],
                         capture_output=True, text=True, timeout=60)
    self.assertEqual(out.stdout.strip(), "False")

  def test_no_tensorflow_addons_or_keras3_imports(self):
    pattern = re.compile(r"^\s*(import|from)\s+(tensorflow_addons|keras\b|"
                         r"tensorflow_graphics\.image\.transformer|"
                         r"gin\.tf(\.external_configurables|\s+import\s+external))|"
                         r"^[^#\n]*\btf\.keras\.", re.M)
    offenders = []
    for folder in ("aign_tf", "tools", "tests", "benchmarks", "experiments"):
      for root, _, names in os.walk(os.path.join(testing.REPO_DIR, folder)):
        for name in names:
          if name.endswith(".py") and name != "package_test.py":
            path = os.path.join(root, name)
            with open(path, encoding="utf-8") as f:
              if pattern.search(f.read()):
                offenders.append(os.path.relpath(path, testing.REPO_DIR))
    self.assertEqual(offenders, [])

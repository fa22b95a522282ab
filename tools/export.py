"""Export a trained generator for TF Serving:

    python tools/export.py --model_dir=runs/toy [--export_base=export] [--name=toy] [--version=N]

Rebuilds the generator from the operative config in --model_dir, restores its latest
checkpoint (generator only) and writes <export_base>/<name>/<version>/ (default name: the
task's; default version: the next free number), then rewrites <export_base>/models.config.
Prints the export path and its signatures.
"""

from absl import app
from absl import flags

flags.DEFINE_string("model_dir", None, "A training directory.", required=True)
flags.DEFINE_string("export_base", "export", "The model repository (TF Serving base).")
flags.DEFINE_string("name", None, "Model name (default: the task's name).")
flags.DEFINE_integer("version", None, "Version number (default: the next free one).")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  from aign_tf.serving import export  # pylint: disable=g-import-not-at-top
  from aign_tf.train import cli  # pylint: disable=g-import-not-at-top
  info = cli.run(export.export, FLAGS.model_dir, export_base=FLAGS.export_base,
                 name=FLAGS.name, version=FLAGS.version)
  print(f"exported {info['name']} version {info['version']} (task {info['task']}, step "
        f"{info['step']}) to {info['path']}")
  print(f"signatures: {', '.join(info['signatures'])}")


if __name__ == "__main__":
  app.run(main)

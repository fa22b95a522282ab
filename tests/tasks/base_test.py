"""Tests of the task contract: registration, and the export found from a task."""

from aign_tf import errors
from aign_tf import testing
from aign_tf.tasks import base
from aign_tf.tasks import export_base
from aign_tf.tasks import toy
from aign_tf.tasks import toy_export


class TaskContractTest(testing.TestCase):

  def test_export_is_found_from_the_task(self):
    exporter = toy.ToyTask(num_pairs=3).export
    self.assertIsInstance(exporter, toy_export.ToyExport)
    self.assertEqual(exporter.input_signature()["observation"].shape.as_list(), [None, 3])

  def test_a_subclass_inherits_its_parents_export_unless_it_registers_one(self):

    class Child(toy.ToyTask):
      pass

    class OwnExport(toy.ToyTask):
      pass

    @export_base.register_export(OwnExport)
    class Own(toy_export.ToyExport):
      pass

    self.assertIsInstance(Child().export, toy_export.ToyExport)
    self.assertIsInstance(OwnExport().export, Own)

  def test_task_without_export(self):

    class Bare(base.Task):
      name = "bare"

    with self.assertRaisesRegex(errors.ConfigError, "task 'bare' does not define an export"):
      Bare().export  # pylint: disable=pointless-statement

  def test_old_export_hooks_on_a_task_are_refused(self):
    # Before export had its own module, a task implemented serve & co. itself: such a task
    # is refused when it registers, with one line saying where export lives now.
    for hook in export_base.OLD_TASK_HOOKS:
      task_cls = type("OldTask", (base.Task,), {"name": "old_" + hook, hook: lambda self: {}})
      with self.assertRaisesRegex(TypeError, rf"^OldTask\.{hook}: export hooks moved out of "
                                  r"Task: write a tasks\.export_base\.TaskExport subclass"):
        base.register_task(task_cls)
      self.assertNotIn("old_" + hook, base.registered_tasks())

  def test_register_export_needs_a_task_export(self):
    with self.assertRaisesRegex(TypeError, "TaskExport subclasses"):
      export_base.register_export(toy.ToyTask)(object)


if __name__ == "__main__":
  testing.main()

"""Tests of the embedded procedural motion set."""

import numpy as np

from aign_tf import testing
from aign_tf.core import skeleton
from aign_tf.data.mocap import procedural


class ProceduralTest(testing.TestCase):

  @testing.parameterized.parameters(*[(m,) for m in procedural.MOTIONS])
  def test_clip_is_rigid_and_upright(self, motion):
    clip = procedural.generate_clip(motion, num_frames=30, seed=1)
    self.assertEqual(clip.shape, (30, skeleton.NUM_JOINTS, 3))
    lengths = skeleton.bone_lengths(clip)
    self.assertAllClose(lengths, np.broadcast_to(lengths[:1], lengths.shape), atol=1e-5)
    self.assertAllClose(clip[:, skeleton.ROOT], np.zeros((30, 3)))
    # The head stays above the pelvis, the ankles below it.
    self.assertTrue(np.all(clip[:, 10, 1] > 0.2))
    self.assertTrue(np.all(clip[:, [3, 6], 1] < -0.3))

  def test_clips_are_seeded_and_distinct(self):
    a = procedural.generate_clips(3, num_frames=8, seed=0)
    b = procedural.generate_clips(3, num_frames=8, seed=0)
    c = procedural.generate_clips(3, num_frames=8, seed=1)
    self.assertEqual(sorted(a), sorted(b))
    for name in a:
      self.assertAllClose(a[name], b[name])
    self.assertEmpty(set(a) & set(c))
    self.assertGreater(np.abs(a[sorted(a)[0]] - c[sorted(c)[0]]).max(), 0.01)

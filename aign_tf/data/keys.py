"""The keys of an AIGN batch (a dict of tensors); see `aign_tf.models.aign` for meanings."""

OBSERVATION = "observation"
CONTEXT = "context"
RECONSTRUCTION_TARGET = "reconstruction_target"
RECONSTRUCTION_WEIGHTS = "reconstruction_weights"
TARGET = "target"
TARGET_MASK = "target_mask"
MEMORY = "memory"

ALL = (OBSERVATION, CONTEXT, RECONSTRUCTION_TARGET, RECONSTRUCTION_WEIGHTS, TARGET,
       TARGET_MASK, MEMORY)

# A renderer returns either the rendered observation or a dict with these keys: the
# observation and where it is valid (multiplied into `reconstruction_weights`).
RENDERED = "rendered"
RENDER_WEIGHTS = "weights"
# Optional: what a trivial rendering would give (e.g. the unwarped source frame); passed to
# the reconstruction loss as `baseline=`, which may then score each element by the better of
# the two (Monodepth2's auto-masking), so the loss never rewards imitating the baseline.
RENDER_BASELINE = "baseline"

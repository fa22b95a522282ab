"""The keys of an AIGN batch (a dict of tensors); see `aign_tf.models.aign` for meanings.

A contract shared by data pipelines, tasks, the model and the training loop, so it lives in
the lowest layer (`aign_tf.core`).
"""

OBSERVATION = "observation"
CONTEXT = "context"
RECONSTRUCTION_TARGET = "reconstruction_target"
RECONSTRUCTION_WEIGHTS = "reconstruction_weights"
TARGET = "target"
TARGET_MASK = "target_mask"
MEMORY = "memory"

ALL = (OBSERVATION, CONTEXT, RECONSTRUCTION_TARGET, RECONSTRUCTION_WEIGHTS, TARGET,
       TARGET_MASK, MEMORY)

"""tf.data builders: the observation stream, the unpaired memory stream, real-format loaders."""

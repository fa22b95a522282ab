"""The training root `train(model_dir, ...)`, evaluation and distribution strategies."""

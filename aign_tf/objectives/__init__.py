"""Losses and regularisers. Every function returns per-example values of shape `[B]`."""

"""The AIGN model, generators and discriminators."""

from aign_tf.models.aign import AIGN

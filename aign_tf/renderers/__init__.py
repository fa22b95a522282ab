"""Parameter-free, differentiable renderers R: latent factors -> observation space."""

from aign_tf.renderers.base import Renderer

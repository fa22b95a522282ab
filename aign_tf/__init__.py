"""aign_tf: Adversarial Inverse Graphics Networks in TensorFlow 2 / tf-keras.

Importing the package is cheap: it pulls in neither TensorFlow Graphics nor any task.
Import the sub-packages you need (`aign_tf.models`, `aign_tf.train`, ...), or call
`aign_tf.configurables.register_all()` to make every gin configurable available.
"""

__version__ = "0.1.0"

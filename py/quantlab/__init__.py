"""quantlab: what post-training weight quantization costs a model once it runs in TensorFlow.js."""

import os as _os

# Set before anything imports TensorFlow: legacy Keras 2 (tfjs 4.22 cannot load Keras 3
# topologies, DESIGN 2.2); quiet C++ logs; and no TF-DF welcome banner, which tensorflowjs'
# eager import of TF-DF tries to show through IPython whenever stdout is not a terminal.
_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")

__version__ = "0.1.0"

"""quantlab: what post-training weight quantization costs a model once it runs in TensorFlow.js."""

__version__ = "0.1.0"

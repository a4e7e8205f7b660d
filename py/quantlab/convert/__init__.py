"""Model source -> tfjs variants: the stock converter's own code for Keras and SavedModel sources
(converter, source), tfjs artifacts re-quantized from their shards (requantize), the converter's
weight checks before writing, cross-layer equalization."""

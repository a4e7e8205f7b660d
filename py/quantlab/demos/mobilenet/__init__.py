"""The MobileNetV2 demo: Keras' ImageNet MobileNetV2, no training; the four variants evaluated
on the ImageNet sample images. Two modes, chosen by which weights file is found:
  full     (classifier weights): top-1 / top-5 under the seed's rule and by exact wnid;
  backbone (no-top weights):     pooled-feature fidelity (cosine to float32, leave-one-out 1-NN).

model.py: the weights file and the Keras model (the `prepare` step); variants.py: the graph
demo's variants (SavedModel -> graph model, equalized, bias-corrected); scoring.py: a variant's
figures from its outputs; evaluate.py: the `evaluate` step (every variant in tfjs, results.json)."""

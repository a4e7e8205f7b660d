"""The fast tier: hand-computed numbers, no data, no Node, no TensorFlow (see test_fast_tier.py).
It is also what `make mutation` runs against every mutant."""

"""The demos, clients of the engine: the registry (housing, mnist, fashion-mnist, mobilenetv2
layers and graph), their architectures, training, data sets, the demo pipeline, MobileNetV2, the
tuner's demo probes, and the demo side of `parity`, `tune` and `bench`. Only demos/ and cli/
import from here (tests/unit/test_engine_boundary.py)."""

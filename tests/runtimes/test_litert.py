"""LiteRT.js in headless Chromium against an independent computation: TensorFlow's own
`tf.lite.Interpreter`, in Python, on the same `.tflite` files, for every LiteRT variant of a tiny
Keras convnet (written by quantlab with the stock `tf.lite.TFLiteConverter`). Float variants must
agree to float32 rounding; full-int8 exactly or to one step of the output's quantization grid."""

from __future__ import annotations

import numpy as np
import pytest

from quantlab.convert.litert import LITERT_VARIANTS, MODEL_FILE, read_recipe, write_litert_variants
from quantlab.errors import QuantlabError
from tests.conftest import require_runtime

BATCH = 4


@pytest.fixture(scope="module")
def litert_models(tmp_path_factory):
    from quantlab.infra.tfcompat import import_tensorflow, keras, seed_everything

    import_tensorflow()
    k = keras()
    seed_everything(5)
    inp = k.Input((8, 8, 1), name="image")
    h = k.layers.Conv2D(6, 3, activation="relu", name="conv")(inp)
    h = k.layers.Flatten()(h)
    model = k.Model(inp, k.layers.Dense(3, name="logits")(h))
    rng = np.random.default_rng(0)
    calibration = rng.uniform(0, 1, size=(32, 8, 8, 1)).astype(np.float32)
    x = rng.uniform(0, 1, size=(10, 8, 8, 1)).astype(np.float32)  # not whole batches: padded
    root = tmp_path_factory.mktemp("litert")
    paths = write_litert_variants(model, root, BATCH, [calibration], calibration_note="32 uniform examples")
    return paths, x


def _interpreter(path, x):
    """tf.lite.Interpreter on whole batches (the last padded), and the output's int8 step."""
    import tensorflow as tf

    it = tf.lite.Interpreter(model_path=str(path))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    n, pad = len(x), -len(x) % BATCH
    xp = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)]) if pad else x
    ys = []
    for k in range(0, len(xp), BATCH):
        it.set_tensor(inp["index"], xp[k : k + BATCH])
        it.invoke()
        ys.append(it.get_tensor(out["index"]).copy())
    step = None
    for op in it._get_ops_details():  # full int8: the output is dequantized from an int8 tensor
        if op["op_name"] == "DEQUANTIZE":
            scales = it.get_tensor_details()[op["inputs"][0]]["quantization_parameters"]["scales"]
            step = float(scales[0]) if len(scales) else None
    return np.concatenate(ys)[:n], step


def test_every_variant_matches_the_tflite_interpreter_in_chromium(litert_models):
    from quantlab.infra.chromium import browser_unavailable_reason
    from quantlab.runtimes.litert import LiteRTRuntime, litert_missing

    require_runtime(browser_unavailable_reason("wasm") or litert_missing())
    paths, x = litert_models
    assert list(paths) == list(LITERT_VARIANTS)
    sizes = {v: (p / MODEL_FILE).stat().st_size for v, p in paths.items()}
    assert sizes["litert-float16"] < sizes["litert-float32"]  # int8 overheads outweigh tiny weights
    assert read_recipe(paths["litert-int8"])["calibration"] == "32 uniform examples"
    with LiteRTRuntime("wasm") as rt:
        for variant, folder in paths.items():
            model = rt.load(folder)
            assert model.inputs[0]["shape"] == [BATCH, 8, 8, 1] and model.inputs[0]["dtype"] == "float32"
            (got,), timings = rt.predict(model, x)
            rt.unload(model)
            want, step = _interpreter(folder / MODEL_FILE, x)
            assert got.shape == want.shape == (10, 3) and timings.examples == 10
            diff = float(np.abs(got - want).max())
            if variant == "litert-int8":
                assert step is not None and diff <= step * 1.001, (variant, diff, step)
            else:
                assert diff <= 1e-5 * max(1.0, float(np.abs(want).max())), (variant, diff)
        assert rt.blocked == [] and rt.console_errors == []


def test_full_int8_without_a_calibration_batch_is_one_line(litert_models, tmp_path):
    from quantlab.infra.tfcompat import keras

    k = keras()
    model = k.Sequential([k.Input((4,)), k.layers.Dense(2)])
    with pytest.raises(QuantlabError, match=r"litert-int8 needs a calibration set of at least one batch \(4"):
        write_litert_variants(
            model, tmp_path, BATCH, [np.zeros((2, 4), np.float32)], variants=["litert-int8"]
        )


def test_litert_missing_names_the_install_command(monkeypatch, tmp_path):
    """No @litertjs/core where the npm packages are: unavailable (not a failure), with the command
    that installs it; no Chromium is started for nothing."""
    from quantlab.errors import RuntimeUnavailable
    from quantlab.runtimes import litert

    monkeypatch.setattr(litert, "litert_dir", lambda: tmp_path / "nowhere")
    monkeypatch.setattr(litert, "browser_unavailable_reason", lambda backend=None: None)  # Chromium or not
    with pytest.raises(
        RuntimeUnavailable, match=r"browser-litert-wasm unavailable: LiteRT.js is not installed .*`npm ci`"
    ):
        litert.LiteRTRuntime("wasm")


def test_no_webgpu_adapter_is_unavailable_and_leaves_no_chromium(monkeypatch):
    """A Chromium with its GPU disabled gives LiteRT.js no WebGPU adapter: analyze --litert's
    early check reports browser-litert-webgpu unavailable (exit 5), and the page it started is gone."""
    from quantlab.analysis.litert_run import check_litert_runtime
    from quantlab.errors import RuntimeUnavailable
    from quantlab.infra.chromium import browser_unavailable_reason, marked_pids
    from quantlab.runtimes import litert

    require_runtime(browser_unavailable_reason("wasm") or litert.litert_missing())
    monkeypatch.setattr(litert, "WEBGPU_FLAGS", ["--disable-gpu"])
    started = []
    start = litert.LiteRTRuntime._start

    def record(self, *args, **kwargs):
        started.append(self)
        return start(self, *args, **kwargs)

    monkeypatch.setattr(litert.LiteRTRuntime, "_start", record)
    with pytest.raises(RuntimeUnavailable, match=r"litert-webgpu unavailable: no WebGPU adapter") as e:
        check_litert_runtime("browser-litert-webgpu", timeout=120)
    assert e.value.exit_code == 5 and len(started) == 1
    assert marked_pids(f"--quantlab-io-dir={started[0].io_dir}") == [] and not started[0].io_dir.exists()

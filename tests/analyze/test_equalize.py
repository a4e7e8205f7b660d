"""`quantlab equalize` on a tiny Keras model (conv -> relu -> depthwise -> conv) made into a
SavedModel, then a tfjs graph model by the stock converter; run in the real Node evaluator."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import invoke_cli


@pytest.fixture(scope="module")
def chain_models(tmp_path_factory):
    """SavedModels of conv1x1 -> act -> depthwise3x3 -> act -> conv1x1 with output channels whose
    ranges differ up to ~400x (as BatchNorm folding leaves them), for act = relu and relu6."""
    from quantlab.infra.tfcompat import import_tensorflow, keras, seed_everything

    import_tensorflow()
    k = keras()
    seed_everything(3)
    root = tmp_path_factory.mktemp("chain")
    rng = np.random.default_rng(0)
    for act in ("relu", "relu6"):
        inp = k.Input((8, 8, 3), name="x")
        h = k.layers.Conv2D(8, 1, activation=act, name="expand")(inp)
        h = k.layers.DepthwiseConv2D(3, padding="same", activation=act, name="dw")(h)
        model = k.Model(inp, k.layers.Conv2D(4, 1, name="project")(h))
        s1, s2 = (
            np.exp(rng.uniform(-3, 3, 8)).astype(np.float32),
            np.exp(rng.uniform(-3, 3, 8)).astype(np.float32),
        )
        w, _ = model.get_layer("expand").get_weights()
        model.get_layer("expand").set_weights([w * s1, (rng.uniform(0, 0.5, 8) * s1).astype(np.float32)])
        w, _ = model.get_layer("dw").get_weights()
        model.get_layer("dw").set_weights(
            [w * s2[None, None, :, None], rng.uniform(-0.1, 0.1, 8).astype(np.float32)]
        )
        model.save(root / f"{act}_sm", save_format="tf")
    np.save(root / "x.npy", rng.uniform(-1, 1, (32, 8, 8, 3)).astype(np.float32))
    # and each as the float32 tfjs graph model the converter makes of it (as equalize does first):
    # the tests that are not about reading a SavedModel start from these, one conversion each
    from quantlab.convert.source import write_float32
    from quantlab.sources import detect

    for act in ("relu", "relu6"):
        write_float32(detect(root / f"{act}_sm"), root / f"{act}_graph")
    return root


def _equalize(tmp_path, model, x, *extra):
    out = tmp_path / "eq"
    proc = invoke_cli("equalize", str(model), "--out", str(out), "--inputs", str(x), "--json", *extra)
    return proc, out


def test_relu_chain_exact_narrower_spread_lower_uint8_error(chain_models, tmp_path):
    from quantlab.analysis.weight_error import channel_spread, read_weights
    from quantlab.tfjs.artifacts import read_artifact

    proc, out = _equalize(tmp_path, chain_models / "relu_sm", chain_models / "x.npy")
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(proc.stdout)
    assert r["status"] == "written" and len(r["equalization"]["pairs"]) == 2
    # float32: the same function (exact in exact arithmetic; float32 rounding only)
    assert r["float32_change"]["max_abs"] < 1e-5 and r["float32_change"]["rel_l2"] < 1e-5
    # uint8 of the equalized model follows float32 far better than uint8 of the original
    assert r["uint8_after"]["rel_l2"] < 0.75 * r["uint8_before"]["rel_l2"]
    for p in r["equalization"]["pairs"]:
        assert p["first_spread_after"] < p["first_spread_before"]
    # an ordinary graph artifact: same weight names and shapes, same nodes; per-channel spread down
    art = read_artifact(out)
    assert art.format == "graph" and (out / "equalize.json").is_file()
    eq = read_weights(art)
    dw = next(n for n in eq if n.split("/")[-3:][0] == "dw" and eq[n].ndim == 4)
    orig = read_weights(read_artifact(chain_models / "relu_graph"))  # the converter's, unequalized
    assert {n: v.shape for n, v in orig.items()} == {n: v.shape for n, v in eq.items()}
    assert channel_spread(dw, eq[dw])["channel_spread"] < channel_spread(dw, orig[dw])["channel_spread"]
    assert (
        channel_spread(dw, eq[dw])["median_channel_share"]
        > channel_spread(dw, orig[dw])["median_channel_share"]
    )
    # and quantlab analyze takes it as any tfjs graph model (stock tfjs loads it, uint8 is written)
    proc = invoke_cli(
        "analyze", str(out), "--inputs", str(chain_models / "x.npy"), "--variants", "uint8",
        "--out", str(tmp_path / "r"), "--models-dir", str(tmp_path / "m"), "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_relu6_exact_with_clips_refused_as_relu_unless_forced(chain_models, tmp_path):
    x = chain_models / "x.npy"
    # default --relu6 clip: ReLU then a per-channel Minimum(6 / s): float32 unchanged
    proc, out = _equalize(tmp_path / "d", chain_models / "relu6_sm", x)
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(proc.stdout)
    assert r["float32_change"]["rel_l2"] < 1e-5 and r["equalization"]["relu6_clip_nodes"]
    assert not r["equalization"]["clips_snapped_to_uint8_grid"]
    # with the clip constants on their uint8 grid, uint8 gains on this chain (unsnapped, the
    # clips' rounding ate the gain here)
    graph = chain_models / "relu6_graph"  # the same model converted: the rest need no conversion
    proc, out = _equalize(tmp_path / "c", graph, x, "--snap-clips")
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(proc.stdout)
    assert r["float32_change"]["rel_l2"] < 1e-5 and not r["forced"]
    assert r["equalization"]["clips_snapped_to_uint8_grid"]
    assert r["uint8_after"]["rel_l2"] < r["uint8_before"]["rel_l2"]
    nodes = json.loads((out / "model.json").read_text())["modelTopology"]["node"]
    assert sum(n["op"] == "Minimum" for n in nodes) == 2
    # --relu6 relu (DFQ) changes the float32 function: refused, naming the layers, nothing written
    proc, out = _equalize(tmp_path / "r", graph, x, "--relu6", "relu")
    assert proc.returncode == 6, proc.stderr[-2000:]
    assert "became ReLU" in proc.stderr + proc.stdout and "expand" in proc.stderr + proc.stdout
    assert not out.exists()
    proc, out = _equalize(tmp_path / "r", graph, x, "--relu6", "relu", "--force")
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(proc.stdout)
    assert r["forced"] and r["equalization"]["relu6_replaced_by_relu"] == ["expand", "dw"]
    assert (out / "model.json").is_file()
    # skip: ReLU6 pairs left alone, so nothing to do
    proc, out2 = _equalize(tmp_path / "s", graph, x, "--relu6", "skip")
    assert proc.returncode == 0 and json.loads(proc.stdout)["status"] == "no-pairs"
    assert not out2.exists()


def test_model_without_pairs_is_left_alone(user_models, tmp_path):
    proc = invoke_cli("equalize", str(user_models["plain_savedmodel"]), "--out", str(tmp_path / "eq"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "no equalizable conv/depthwise pairs" in proc.stdout + proc.stderr
    assert not (tmp_path / "eq").exists()


def test_graph_with_control_flow_is_refused_naming_the_ops(tmp_path):
    """A SavedModel whose conv pair runs inside tf.while_loop: the converter writes a graph model
    with control flow, which equalize refuses in one line (exit 2), writing nothing."""
    from quantlab.infra.tfcompat import import_tensorflow

    import_tensorflow()
    import tensorflow as tf

    rng = np.random.default_rng(3)
    m = tf.Module()
    m.k1 = tf.Variable(rng.normal(size=(3, 3, 2, 4)).astype(np.float32))
    m.k2 = tf.Variable(rng.normal(size=(1, 1, 4, 2)).astype(np.float32))

    def body(i, x):
        h = tf.nn.relu(tf.nn.conv2d(x, m.k1, 1, "SAME"))
        return i + 1, tf.nn.conv2d(h, m.k2, 1, "SAME")

    @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 2], tf.float32, name="x")])
    def serve(x):
        n = tf.cast(tf.reduce_sum(tf.ones_like(x[:1, :1, :1, :1])), tf.int32) + 1  # not a constant
        return {"y": tf.while_loop(lambda i, _: i < n, body, [tf.constant(0), x])[1]}

    m.serve = serve
    tf.saved_model.save(m, str(tmp_path / "loop_sm"), signatures=serve)
    proc = invoke_cli("equalize", str(tmp_path / "loop_sm"), "--out", str(tmp_path / "eq"))
    assert proc.returncode == 2, proc.stderr[-2000:]
    error = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(error) == 1 and str(tmp_path / "loop_sm") in error[0], proc.stderr[-2000:]
    assert "control flow (" in error[0] and "LoopCond" in error[0]  # the converter's v1 loop ops
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "eq").exists()


def test_bias_correction_removes_uint8_mean_output_shift(chain_models, tmp_path):
    """--bias-correction uint8: every biased conv corrected, calibrated on 16 of the inputs; the
    written model all-uint8 strays less from float32 than the equalized model all-uint8 (measured
    here: relative L2 0.0132 -> 0.0093), and its float32 outputs move (it is meant for uint8)."""
    x = chain_models / "x.npy"
    proc, out = _equalize(
        tmp_path, chain_models / "relu_graph", x, "--bias-correction", "uint8", "--calibration", "16"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(proc.stdout)
    bc = r["bias_correction"]
    assert bc["target"] == "uint8" and bc["n_layers"] >= 2 and bc["n_calibration"] == 16
    assert r["uint8_after"]["rel_l2"] < r["uint8_after_equalization_only"]["rel_l2"]
    assert r["float32_change"]["rel_l2"] < 1e-5  # the tolerance is judged before bias correction
    assert r["float32_change_bias_corrected"]["rel_l2"] > 1e-4
    from quantlab.analysis.weight_error import read_weights
    from quantlab.tfjs.artifacts import read_artifact

    written = read_weights(read_artifact(out))
    assert {layer["bias"] for layer in bc["layers"]} <= set(written)

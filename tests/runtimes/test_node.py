"""The Node evaluator client: parity with Keras, leak check, and every fault it must survive."""

import shutil
import signal
import threading

import numpy as np
import pytest

from quantlab.convert.converter import VARIANTS
from quantlab.errors import ArtifactError, EvaluatorError
from quantlab.runtimes.keras import KerasRuntime
from quantlab.runtimes.node import TfjsNodeRuntime
from quantlab.runtimes.node_evaluator import NodeEvaluator
from tests.conftest import node_processes_of


@pytest.fixture(scope="module")
def wasm():
    rt = TfjsNodeRuntime("wasm", timeout=120)
    yield rt
    rt.close()


@pytest.mark.parametrize("variant", VARIANTS)
def test_wasm_matches_keras_on_the_same_artifact(wasm, small_convnet_dir, variant):
    x = np.load(small_convnet_dir / "x.npy")
    keras_rt = KerasRuntime()
    (ref,), _ = keras_rt.predict(keras_rt.load(small_convnet_dir / variant), x)
    before = wasm.num_tensors()
    loaded = wasm.load(small_convnet_dir / variant)
    (out,), t = wasm.predict(loaded, x, batch_size=16)  # several batches
    wasm.unload(loaded)
    assert wasm.num_tensors() == before  # no tensors leaked by load/predict/unload
    assert wasm.leaks == []
    assert out.shape == ref.shape and np.abs(out - ref).max() < 1e-5
    assert t.examples == len(x) and t.predict_ms > 0


def test_quantization_changes_outputs(wasm, small_convnet_dir):
    x = np.load(small_convnet_dir / "x.npy")
    outs = {}
    for v in ("float32", "uint8"):
        loaded = wasm.load(small_convnet_dir / v)
        (outs[v],), _ = wasm.predict(loaded, x)
        wasm.unload(loaded)
    assert 0 < np.abs(outs["uint8"] - outs["float32"]).max() < 0.1


def test_input_shape_mismatch_is_a_clear_error(wasm, small_convnet_dir):
    loaded = wasm.load(small_convnet_dir / "float32")
    with pytest.raises(
        EvaluatorError,
        match=r"INPUT_SHAPE: input shape \[3,28,28,1\] does not "
        r"match the model's input shape \[null,12,12,1\]",
    ):
        wasm.predict(loaded, np.zeros((3, 28, 28, 1), np.float32))
    wasm.unload(loaded)
    assert wasm.evaluator.alive()  # a bad job does not kill the process


def test_truncated_shard_is_named_before_tfjs_sees_it(wasm, small_convnet_dir, tmp_path):
    broken = tmp_path / "m"
    shutil.copytree(small_convnet_dir / "uint8", broken)
    shard = broken / "group1-shard1of1.bin"
    shard.write_bytes(shard.read_bytes()[:10])
    with pytest.raises(ArtifactError, match="group1-shard1of1.bin: 10 bytes"):
        wasm.load(broken)


def test_tfjs_load_failure_is_one_line_naming_the_file(wasm, small_convnet_dir, tmp_path):
    broken = tmp_path / "m"
    shutil.copytree(small_convnet_dir / "float32", broken)
    text = (broken / "model.json").read_text().replace('"Conv2D"', '"NoSuchLayer"')
    (broken / "model.json").write_text(text)
    with pytest.raises(ArtifactError) as e:  # a broken artifact: exit 4, one line naming the file
        wasm.load(broken)
    assert e.value.exit_code == 4 and "\n" not in str(e.value)
    assert str(e.value).startswith(f"{broken / 'model.json'}: tfjs cannot load it:") and "NoSuchLayer" in str(
        e.value
    )


def test_missing_npm_packages(tmp_path, monkeypatch):
    from quantlab.runtimes.protocol import js_dir

    shutil.copytree(js_dir(), tmp_path / "js")  # no node_modules anywhere above tmp_path
    monkeypatch.setenv("QUANTLAB_JS_DIR", str(tmp_path / "js"))
    with pytest.raises(
        EvaluatorError,
        match=r"MISSING_DEPENDENCY: cannot import "
        r"@tensorflow/tfjs .*run `npm ci`",
    ):
        NodeEvaluator("wasm")


def test_node_missing(monkeypatch):
    from quantlab.infra.node import find_node

    find_node.cache_clear()
    monkeypatch.setenv("QUANTLAB_NODE", "/nonexistent/node")
    try:
        with pytest.raises(EvaluatorError, match="QUANTLAB_NODE=/nonexistent/node is not a working node"):
            NodeEvaluator("wasm")
    finally:
        find_node.cache_clear()


def _fake_evaluator(tmp_path, body: str):
    script = tmp_path / "fake.mjs"
    script.write_text(
        "process.stdout.write(JSON.stringify({event:'ready', ok:true, backend:'wasm',"
        "versions:{}, node:process.version, num_tensors:0}) + '\\n');\n" + body
    )
    return script


def test_hanging_evaluator_times_out_and_is_killed(tmp_path):
    script = _fake_evaluator(tmp_path, "setInterval(() => {}, 1000); process.stdin.resume();")
    ev = NodeEvaluator("wasm", script=script, timeout=1.5)
    pid = ev.proc.pid
    with pytest.raises(EvaluatorError, match="did not answer info within 2 s; it was stopped"):
        ev.request("info")
    assert ev.proc.poll() is not None
    assert not any(str(pid) in line for line in node_processes_of("fake.mjs"))


def test_crashing_evaluator_reports_exit_code_and_stderr(tmp_path):
    script = _fake_evaluator(
        tmp_path,
        "process.stdin.once('data', () => { "
        "process.stderr.write('boom: out of memory\\n'); process.exit(7); });",
    )
    ev = NodeEvaluator("wasm", script=script, timeout=30)
    with pytest.raises(EvaluatorError, match="exited with code 7 during info: boom: out of memory"):
        ev.request("info")


def test_evaluator_killed_mid_job(small_convnet_dir):
    rt = TfjsNodeRuntime("cpu", timeout=60)  # cpu is slow enough to kill mid-predict
    loaded = rt.load(small_convnet_dir / "float32")
    x = np.repeat(np.load(small_convnet_dir / "x.npy"), 400, axis=0)
    threading.Timer(1.0, lambda: rt.evaluator.proc.send_signal(signal.SIGKILL)).start()
    with pytest.raises(EvaluatorError, match=r"exited with code -9 during predict"):
        rt.predict(loaded, x)
    assert not rt.evaluator.io_dir.exists()  # temp tensors removed
    rt.close()


def test_no_evaluator_left_after_close(small_convnet_dir):
    rt = TfjsNodeRuntime("wasm")
    pid = rt.evaluator.proc.pid
    rt.close()
    assert rt.evaluator.proc.poll() is not None  # close() waits for the process (reaped, not a zombie)
    assert not any(line.split()[0] == str(pid) for line in node_processes_of())

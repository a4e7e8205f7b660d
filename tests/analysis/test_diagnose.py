"""`quantlab diagnose` through the real CLI and tfjs, against independent values:

- a chain of five Dense layers whose third layer's kernel (only) is made coarse: the local error
  must peak at that layer, everything before it is exact, and the accumulated error rises there;
  the figures match numpy on the activations fetched by name (`predict(layers=...)`), and the
  local run matches feeding float32's input of that layer by hand;
- a layer whose activations pass 65504 by construction: flagged at that node, and in
  browser-webgl-f16 (16-bit textures) float32's own run shows the Inf there."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from quantlab.convert.requantize import read_weight_groups, write_artifact
from tests.conftest import invoke_cli


def _cli(*args: str) -> dict:
    """The real CLI in this process (typer's CliRunner: the same app, without a fresh interpreter
    and its imports for every diagnosis); its --json record."""
    r = invoke_cli(*args, "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict:
    """chain.h5 (Dense x5) and hot.h5 (activations ~1e5, as a layers model: webgl computes layers
    models in the same textures) with inputs; float32 and float16 tfjs variants; `coarse3` (d3's
    kernel on a 0.25 grid) of chain (a functional model, as a graph model) and of seq (a
    Sequential model, as a layers model)."""
    from quantlab.analysis.analyze import AnalyzeOptions, write_variants
    from quantlab.infra.tfcompat import import_tensorflow, keras, seed_everything
    from quantlab.sources import detect
    from quantlab.workspace import claim_model_root

    import_tensorflow()
    k = keras()
    seed_everything(3)
    root = tmp_path_factory.mktemp("diagnose")
    rng = np.random.default_rng(0)
    inp = k.Input((16,), name="x")
    h = inp
    for i in range(1, 5):
        h = k.layers.Dense(32, activation="relu", name=f"d{i}")(h)
    k.Model(inp, k.layers.Dense(4, name="out")(h), name="chain").save(root / "chain.h5")  # names its nodes
    seq = k.Sequential(
        [k.Input((16,)), *(k.layers.Dense(32, activation="relu", name=f"d{i}") for i in range(1, 5))]
    )
    seq.add(k.layers.Dense(4, name="out"))
    seq.save(root / "seq.h5")  # a Sequential model: tfjs keeps its InputLayer in an inner model
    np.savez(root / "chain.npz", x=rng.uniform(-1, 1, size=(48, 16)).astype(np.float32))

    hot_in = k.Input((8,), name="x")
    big = k.layers.Dense(32, activation="relu", name="big", kernel_initializer=k.initializers.Constant(3e4))
    hot = k.Model(
        hot_in, k.layers.Dense(2, name="small", kernel_initializer=k.initializers.Constant(1e-5))(big(hot_in))
    )
    hot.save(root / "hot.h5")
    np.savez(root / "hot.npz", x=rng.uniform(0.2, 1, size=(32, 8)).astype(np.float32))  # big: 4.8e4 .. 2.4e5

    models = {}
    for name, fmt in (("chain", "graph"), ("seq", "layers"), ("hot", "layers")):
        src = detect(root / f"{name.split('_')[0]}.h5")
        models[name] = root / "models" / name
        claim_model_root(models[name], src.path)  # as analyze does: quantlab's own folder
        write_variants(src, AnalyzeOptions(name=name, variants=["float32", "float16"], output_format=fmt),
                       models[name])  # fmt: skip
    for name in ("chain", "seq"):
        model_json, groups = read_weight_groups(models[name] / "float32")
        is_d3 = lambda e: "d3" in e["name"] and e["data"].ndim == 2  # noqa: E731 (d3's kernel)
        coarse = [
            [dict(e, data=np.round(e["data"] * 4) / 4 if is_d3(e) else e["data"]) for e in g] for g in groups
        ]
        assert sum(is_d3(e) for g in groups for e in g) == 1
        write_artifact(models[name] / "coarse3", model_json, coarse)
    return {"root": root, "models": models}


def _diagnose(made, name: str, variant: str, *extra: str) -> dict:
    root = made["root"]
    source = root / f"{name.split('_')[0]}.h5"
    data = root / ("hot.npz" if name == "hot" else "chain.npz")
    return _cli(
        "diagnose", str(source), "--name", name, "--variant", variant, "--models-dir", str(root / "models"),
        "--out", str(root / "out"), "--inputs", str(data), *extra,
    )  # fmt: skip


def _by_layer(record: dict) -> dict[str, dict]:
    """The node of each Dense layer (graph: its last node, where the activation ends)."""
    out = {}
    for row in record["nodes"]:
        for layer in ("d1", "d2", "d3", "d4", "out", "big", "small"):
            if f"/{layer}/" in f"/{row['node']}/" or row["node"] == layer:
                out[layer] = row  # later nodes of a layer replace earlier ones
    return out


@pytest.fixture(scope="module")
def chain_record(made) -> dict:
    """One diagnosis of chain's coarse3 (graph), read by several tests."""
    return _diagnose(made, "chain", "coarse3")


@pytest.fixture(scope="module")
def seq_record(made) -> dict:
    """One diagnosis of seq's coarse3 (a layers model), read by several tests."""
    return _diagnose(made, "seq", "coarse3")


@pytest.mark.parametrize("name", ["chain", "seq"])
def test_the_coarse_layer_is_where_the_error_enters(chain_record, seq_record, name):
    r = chain_record if name == "chain" else seq_record
    assert r["format"] == ("graph" if name == "chain" else "layers") and r["n_examples"] == 48
    rows = _by_layer(r)
    for layer in ("d1", "d2"):
        assert rows[layer]["accumulated"]["identical"], layer
    local = [row for row in r["nodes"] if row["compared"] and row["local"] and not row["local"]["identical"]]
    in_d3 = lambda node: "/d3/" in f"/{node}/"  # noqa: E731 (graph: d3's MatMul reads the kernel)
    assert in_d3(min(local, key=lambda row: row["local"]["sqnr_db"])["node"])
    assert in_d3(r["summary"]["worst_local"][0]["node"])
    assert in_d3(r["summary"]["largest_falls"][0]["node"])
    d3 = rows["d3"]["accumulated"]["sqnr_db"]
    assert d3 is not None and d3 < 60
    for layer in ("d4", "out"):  # downstream carries the error (no fresh error: exact weights)
        assert rows[layer]["local"]["identical"] or rows[layer]["local"]["sqnr_db"] > 100
        assert not rows[layer]["accumulated"]["identical"]
    assert r["summary"]["first_f16_range"] is None
    me = r["model_explorer"]
    assert len(me["overlays"]) == 6
    nd = json.loads(Path(me["overlays"][1]).read_text())  # local SQNR
    worst = r["summary"]["worst_local"][0]
    if name == "chain":  # a graph model: its own node names
        assert nd["results"][worst["node"]]["value"] == pytest.approx(worst["local_sqnr_db"], abs=1e-3)
    else:  # a layers model: shown as its graph form, d3's figure on d3's nodes (and on no other)
        graph = json.loads(Path(me["model_json"]).read_text())
        assert "graph" in me["viewing_graph"] and graph["format"] == "graph-model"
        d3_nodes = [n for n in nd["results"] if "/d3/" in f"/{n}/"]
        assert d3_nodes and all(
            nd["results"][n]["value"] == pytest.approx(worst["local_sqnr_db"], abs=1e-3) for n in d3_nodes
        )
        graph_nodes = {n["name"] for n in graph["modelTopology"]["node"]}
        assert set(nd["results"]) <= graph_nodes
        assert min(v["value"] for v in nd["results"].values()) == pytest.approx(
            worst["local_sqnr_db"], abs=1e-3
        )


def test_figures_match_numpy_on_fetched_activations(made):
    """Independent: the activations fetched by name through predict, compared in numpy, and the
    local run made by feeding float32's values of d3's input by hand."""
    from quantlab.runtimes import make_runtime
    from quantlab.tfjs.graph_topology import weight_readers

    model_json = json.loads((made["models"]["chain"] / "float32" / "model.json").read_text())
    kernel = next(w for w in weight_readers(model_json) if "/d3/" in f"/{w}" and "MatMul" in w)
    (kernel_reader,) = weight_readers(model_json)[kernel]  # d3's MatMul
    r = _diagnose(made, "chain", "coarse3", "--node", kernel_reader)
    assert len(r["nodes"]) == 1
    row = r["nodes"][0]
    node = next(n for n in model_json["modelTopology"]["node"] if n["name"] == row["node"])
    feed = next(i for i in node["input"] if "d2" in i)
    x = np.load(made["root"] / "chain.npz")["x"]
    with make_runtime("node-wasm") as rt:
        ref, var = rt.load(made["models"]["chain"] / "float32"), rt.load(made["models"]["chain"] / "coarse3")
        (a,), _ = rt.predict(ref, x, layers=[row["node"]])
        (b,), _ = rt.predict(var, x, layers=[row["node"]])
        (f,), _ = rt.predict(ref, x, layers=[feed])
        (loc,), _ = rt.predict(var, x, layers=[row["node"]], feeds={feed: f})
    a, b, loc = (v.astype(np.float64).reshape(len(x), -1) for v in (a, b, loc))
    sqnr = 10 * math.log10((a**2).sum() / ((a - b) ** 2).sum())
    assert row["accumulated"]["sqnr_db"] == pytest.approx(sqnr, abs=1e-3)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    cos = np.where(norms > 0, (a * b).sum(axis=1) / np.where(norms > 0, norms, 1), 1.0)
    assert row["accumulated"]["cosine"] == pytest.approx(cos.mean(), abs=1e-5)
    assert row["accumulated"]["max_abs"] == pytest.approx(np.abs(a - b).max(), rel=1e-6)
    # d2 is exact in the variant, so d3's local error equals its accumulated one
    local = 10 * math.log10((a**2).sum() / ((a - loc) ** 2).sum())
    assert row["local"]["sqnr_db"] == pytest.approx(local, abs=1e-3)
    assert row["local"]["sqnr_db"] == pytest.approx(sqnr, abs=1e-3)


def test_float16_overflow_is_flagged_and_shows_as_inf_in_webgl_f16(made):
    r = _diagnose(made, "hot", "float16")
    big = _by_layer(r)["big"]
    assert "f16-overflow" in big["range"]["flags"] and big["range"]["max_abs"] > 65504
    assert r["summary"]["first_f16_range"]["node"] in {
        row["node"] for row in r["nodes"] if "/big/" in f"/{row['node']}/"
    }
    f16 = _diagnose(made, "hot", "float16", "--runtime", "browser-webgl-f16")
    if f16["runtime"].get("precision") != "float16":
        pytest.skip(f"no float16 textures here: {f16['runtime']}")
    first = f16["summary"]["first_f16_range"]
    assert first is not None and first["nonfinite"] > 0 and "nonfinite" in first["flags"]
    assert "/big/" in f"/{first['node']}/"


def _shown(text: str, row: str) -> list[float]:
    """One row of Model Explorer's "Aggregated stats" table (Min, Max), one figure per overlay."""
    block = text[text.index("Aggregated stats") :]
    line = next(ln for ln in block.splitlines() if ln.startswith(f"{row}\t"))
    return [float(v) for v in line.split("\t")[1:]]


@pytest.mark.parametrize("name", ["chain", "seq"])
def test_model_explorer_shows_the_overlay_in_chromium(chain_record, seq_record, tmp_path, name):
    """Model Explorer, started as `diagnose` prints it (on 127.0.0.1), opens the float32 graph with
    the overlays through the no-click URL; its side panel shows the figures of our files. For the
    layers model (seq), the graph is its graph form, which Model Explorer reads (a layers
    model.json it refuses)."""
    from quantlab.analysis import model_explorer as me
    from quantlab.infra.chromium import browser_unavailable_reason, chromium_path
    from tests.conftest import require_runtime

    require_runtime(None if me.installed() else f"Model Explorer missing: {me.install_hint()}")
    require_runtime(browser_unavailable_reason())
    r = chain_record if name == "chain" else seq_record
    files = [Path(p) for p in r["model_explorer"]["overlays"][:2]]  # accumulated, local SQNR
    values = [[v["value"] for v in json.loads(f.read_text())["results"].values()] for f in files]
    from playwright.sync_api import sync_playwright

    with me.running_explorer(Path(r["model_explorer"]["model_json"]), files) as url:
        assert url.startswith(f"http://{me.HOST}:")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path(), headless=True)
            try:
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                page.goto(url)
                page.get_by_text("Aggregated stats").wait_for(timeout=120_000)
                text = page.inner_text("body")
                page.screenshot(path=tmp_path / "model_explorer.png")  # kept with the test output
            finally:
                browser.close()
    assert "coarse3: accumulated SQNR (dB)" in text and "coarse3: local SQNR (dB)" in text
    assert _shown(text, "Min") == pytest.approx([round(min(v), 3) for v in values], abs=1e-3)
    assert _shown(text, "Max") == pytest.approx([round(max(v), 3) for v in values], abs=1e-3)
    assert (tmp_path / "model_explorer.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--variant", "nope"], "--variant nope: not in"),
        (["--variant", "float32"], "--variant float32: it is the reference"),
        (["--runtime", "keras"], "--runtime keras: diagnose runs in tfjs"),
        (
            ["--node", "StatefulPartitionedCall/chain/d3/Relux"],
            "close: StatefulPartitionedCall/chain/d3/Relu",
        ),
        (["--max-memory", "0.0001"], "one example's output is"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(made, extra, message):
    root = made["root"]
    r = invoke_cli(
        "diagnose", root / "chain.h5", "--name", "chain", "--models-dir", root / "models",
        "--out", root / "bad", "--inputs", root / "chain.npz", *extra,
    )  # fmt: skip
    assert r.returncode == 2, r.stdout + r.stderr
    errors = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], errors
    assert "Traceback" not in r.stdout + r.stderr
    assert not (root / "bad" / "chain" / "diagnose").exists()  # nothing half-written


def test_the_report_shows_where_the_error_enters(made):
    """After `analyze`, a diagnosis (its record in diagnose/, read with the run) lands in the page:
    the depth chart (one line per output), the tables and the float16 line."""
    root = made["root"]
    out = root / "report_out"
    r = invoke_cli("analyze", str(root / "chain.h5"), "--name", "chain", "--models-dir", str(root / "models"),
                "--out", str(out), "--inputs", str(root / "chain.npz"), "--variants", "uint8")  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    d = _cli("diagnose", str(root / "chain.h5"), "--name", "chain", "--variant", "uint8", "--models-dir",
             str(root / "models"), "--out", str(out), "--inputs", str(root / "chain.npz"))  # fmt: skip
    from quantlab.results import read_run

    results, problems, earlier = read_run(out / "chain" / "results.json")
    entry = results["diagnose"]["variants"]["uint8"]
    assert problems == [] and earlier == {}  # measured after the results it joins
    assert "diagnose" not in json.loads((out / "chain" / "results.json").read_text())
    assert entry["summary"] == d["summary"] and len(entry["curve"]) == sum(n["compared"] for n in d["nodes"])
    page = (out / "chain" / "index.html").read_text()
    assert (
        "Where the error enters" in page and page.count('class="branch"') == len(d["summary"]["outputs"]) == 1
    )
    assert d["summary"]["largest_falls"][0]["node"] in page

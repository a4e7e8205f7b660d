"""The diagnosis' pure parts against hand-made graphs and hand-computed figures: the activation
graph (order, reads, depth, outputs reached, local-run groups), the error figures from the sums
compare.js returns, the call plan under a memory cap, and Model Explorer's node-data files."""

from __future__ import annotations

import json
import math
from urllib.parse import unquote

import numpy as np
import pytest

from quantlab.analysis.diagnose_plan import COPIES, plan_calls
from quantlab.analysis.diagnose_summary import EXACT_DB, summarise
from quantlab.analysis.model_explorer import explorer_url, node_data, overlays
from quantlab.analysis.node_error import error_figures, range_figures, resample_counts
from quantlab.errors import QuantlabError
from quantlab.tfjs.activation_graph import ActivationGraph
from quantlab.tfjs.graph_topology import weight_readers


def _node(name, op, *inputs):
    return {"name": name, "op": op, "input": list(inputs)}


# x -> conv -> relu --+--> add -> head_a (output A)
#          \-> side --/      \-> split:1 -> head_b (output B); consts w1, w2; a control input
GRAPH = {
    "modelTopology": {
        "node": [
            _node("head_b", "Identity", "split:1"),  # listed before what it reads: order is computed
            _node("x", "Placeholder"),
            _node("w1", "Const"),
            _node("w2", "Const"),
            _node("conv", "Conv2D", "x", "w1"),
            _node("relu", "Relu", "conv"),
            _node("side", "Mul", "conv:0", "w2"),
            _node("add", "AddV2", "relu", "side", "^conv"),
            _node("head_a", "Softmax", "add"),
            _node("split", "Split", "w2", "add"),
        ]
    }
}


@pytest.fixture
def graph():
    return ActivationGraph.from_graph_model(GRAPH, {"head_a": "A", "head_b": "B"})


def test_graph_order_reads_depth_outputs(graph):
    assert set(graph.nodes) == {"conv", "relu", "side", "add", "head_a", "split", "head_b"}
    pos = {n: i for i, n in enumerate(graph.nodes)}
    for node, keys in graph.reads.items():
        for k in keys:
            assert pos[k.split(":")[0]] < pos[node]
    assert graph.reads["conv"] == []  # x is an input, w1 a weight
    assert graph.reads["side"] == ["conv"]  # "conv:0" is conv's first output
    assert graph.reads["add"] == ["relu", "side"]  # "^conv" orders only
    assert graph.reads["head_b"] == ["split:1"]
    assert graph.depth == {"conv": 1, "relu": 2, "side": 2, "add": 3, "head_a": 4, "split": 4, "head_b": 5}
    assert graph.feeds_outputs["conv"] == ["A", "B"] and graph.feeds_outputs["head_a"] == ["A"]
    assert graph.output_nodes == {"A": "head_a", "B": "head_b"}


def test_groups_never_run_a_node_with_what_it_reads(graph):
    groups = graph.groups(graph.nodes)
    assert sorted(n for g in groups for n in g["nodes"]) == sorted(graph.nodes)
    for g in groups:
        members = set(g["nodes"])
        assert not any(k.split(":")[0] in members for n in g["nodes"] for k in graph.reads[n])
        assert sorted(g["feeds"]) == sorted({k for n in g["nodes"] for k in graph.reads[n]})
        assert g["reads"] == [graph.reads[n] for n in g["nodes"]]  # each node's own, for a retry alone
    # a chain needs two groups, not one per node
    assert len(groups) == 2


def test_groups_keep_one_output_per_fed_node():
    # b reads a:0 and c reads a:1: tfjs keeps one fed output per node, so they run apart
    g = ActivationGraph.from_graph_model(
        {"modelTopology": {"node": [_node("x", "Placeholder"), _node("a", "Split", "x"),
                                    _node("b", "Relu", "a"), _node("c", "Relu", "a:1")]}}, {}
    )  # fmt: skip
    groups = g.groups(["b", "c"])
    assert [sorted(gr["nodes"]) for gr in groups] == [["b"], ["c"]]


def test_layers_graph_from_the_runtime_description():
    layers = [
        {"name": "in", "class_name": "InputLayer", "inbound": []},
        {"name": "d1", "class_name": "Dense", "inbound": ["in"]},
        {"name": "d2", "class_name": "Dense", "inbound": ["d1"]},
        {"name": "cat", "class_name": "Concatenate", "inbound": ["d1", "d2"]},
    ]
    g = ActivationGraph.from_layers(layers, ["cat"])
    assert g.nodes == ["d1", "d2", "cat"] and g.reads["d1"] == [] and g.reads["cat"] == ["d1", "d2"]
    assert g.depth["cat"] == 3 and g.feeds_outputs["d1"] == ["cat"]


def _stats(x: np.ndarray, y: np.ndarray) -> dict:
    """The sums compare.js returns, computed here in numpy, one row per example."""
    rows = []
    for a, b in zip(x.astype(np.float64), y.astype(np.float64), strict=True):
        d = a - b
        rows.append(
            [
                a @ a,
                b @ b,
                a @ b,
                d @ d,
                np.abs(d).max(),
                np.abs(a).max(),
                0,
                0,
                0,
                np.count_nonzero(a),
                0,
                a.size,
            ]
        )
    names = ["sxx", "syy", "sxy", "sdd", "max_abs_diff", "max_abs_x", "nonfinite_x", "nonfinite_y",
             "subnormal_x", "nonzero_x", "over_f16_x", "count"]  # fmt: skip
    block = np.array(rows)
    return {n: block[:, i] for i, n in enumerate(names)}


def test_error_figures_by_hand():
    # example 1: x (3, 4), y (3, 0): |x|^2 = 25, error 16; example 2: x (1, 0), y (1, 0): exact
    x = np.array([[3.0, 4.0], [1.0, 0.0]])
    y = np.array([[3.0, 0.0], [1.0, 0.0]])
    fig = error_figures(_stats(x, y), resample_counts(2))
    assert fig.sqnr_db == pytest.approx(10 * math.log10(26 / 16), abs=1e-3)
    assert fig.rel_l2 == pytest.approx(math.sqrt(16 / 26))
    assert fig.cosine == pytest.approx((3 / 5 + 1.0) / 2)  # 9 / (5 * 3), and 1
    assert fig.max_abs == 4.0 and not fig.identical and fig.nonfinite == 0
    same = error_figures(_stats(x, x), resample_counts(2))
    assert same.identical and same.sqnr_db is None and same.cosine == 1.0


def test_sqnr_interval_brackets_the_figure():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 50))
    y = x + rng.normal(scale=0.1, size=x.shape)
    fig = error_figures(_stats(x, y), resample_counts(40))
    lo, hi = fig.sqnr_ci
    assert lo < fig.sqnr_db < hi and hi - lo < 2  # ~20 dB, known to within a dB or so


def test_range_flags():
    base = {"max_abs_x": np.array([7e4, 1.0]), "nonzero_x": np.array([10, 10]),
            "subnormal_x": np.array([0, 5]), "over_f16_x": np.array([1, 0]),
            "nonfinite_x": np.array([0, 0])}  # fmt: skip
    r = range_figures(base)
    assert r["flags"] == ["f16-overflow", "f16-subnormal"] and r["subnormal_share"] == 0.25
    calm = range_figures({**base, "max_abs_x": np.array([3.0, 1.0]), "over_f16_x": np.zeros(2),
                          "subnormal_x": np.zeros(2)})  # fmt: skip
    assert calm["flags"] == []


def test_plan_fits_the_cap_and_names_a_node_too_large(graph):
    sizes = dict.fromkeys(graph.nodes, 1000)
    plan = plan_calls(graph, graph.nodes, sizes, max_bytes=7 * 1000 * COPIES * 4, n=64, fixed=None)
    assert plan == [(graph.nodes, 4)]  # every node at once, 4 examples per call
    plan = plan_calls(graph, graph.nodes, sizes, max_bytes=3 * 1000 * COPIES, n=64, fixed=None)
    assert [len(g) for g, _ in plan] == [3, 3, 1] and all(e >= 1 for _, e in plan)
    with pytest.raises(QuantlabError, match=r"node add: one example's output is 0.1 MB"):
        plan_calls(graph, graph.nodes, {**sizes, "add": 100_000}, max_bytes=1e5, n=64, fixed=None)
    assert plan_calls(graph, graph.nodes, sizes, max_bytes=1e9, n=64, fixed=1)[0][1] == 1  # a fixed batch


def _row(node, acc, local=None, flags=(), outputs=("A",)):
    fig = lambda v: {"identical": v is None, "sqnr_db": v, "nonfinite": 0}  # noqa: E731
    return {"node": node, "op": "X", "outputs": list(outputs), "compared": True, "accumulated": fig(acc),
            "local": fig(local) if local is not False else None,
            "range": {"flags": list(flags), "max_abs": 1.0}}  # fmt: skip


def test_summary_names_where_the_error_enters(graph):
    rows = [_row("conv", None, None), _row("relu", None, None), _row("side", 30.0, 30.0),
            _row("add", 25.0, 60.0, ["f16-overflow"]), _row("head_a", 24.0, None), _row("split", 25.0, None),
            _row("head_b", 25.0, None, outputs=["B"])]  # fmt: skip
    s = summarise(rows, graph, top=2)
    assert [r["node"] for r in s["largest_falls"]] == ["side", "add"]  # exact -> 30 dB, then 30 -> 25
    assert s["largest_falls"][0]["fall_db"] == pytest.approx(EXACT_DB - 30)
    assert [r["node"] for r in s["worst_local"]] == ["side", "add"]
    assert s["outputs"]["A"]["sqnr_db"] == 24.0 and s["outputs"]["B"]["sqnr_db"] == 25.0
    assert s["first_f16_range"]["node"] == "add"


def test_model_explorer_node_data():
    nd = node_data("x", {"a": 1.23456, "b": float("inf"), "c": None})
    assert nd == {"name": "x", "results": {"a": {"value": 1.2346}}, "gradient": nd["gradient"]}
    assert [g["stop"] for g in nd["gradient"]] == [0, 0.5, 1]
    assert weight_readers(GRAPH) == {"w1": ["conv"], "w2": ["side", "split"]}
    record = {"variant": "uint8", "summary": {"exact_db": EXACT_DB},
              "nodes": [_row("conv", None, None), _row("side", 12.5, 20.0, ["f16-overflow"])]}  # fmt: skip
    weights = [{"name": "w1", "sqnr_db": 40.0, "channel_spread": 3.0}, {"name": "w2", "sqnr_db": 20.0}]
    files = overlays(record, GRAPH, weights, [{"layer": "w2"}, {"layer": "w1"}])
    assert files["uint8.accumulated-sqnr"]["results"] == {
        "conv": {"value": EXACT_DB},
        "side": {"value": 12.5},
    }
    assert files["uint8.weight-sqnr"]["results"] == {"conv": {"value": 40.0}, "side": {"value": 20.0},
                                                     "split": {"value": 20.0}}  # fmt: skip
    assert files["uint8.f16-flags"]["results"]["side"] == {"value": 1.0}
    assert files["uint8.sensitivity-rank"]["results"]["conv"] == {"value": 2.0}
    url = explorer_url(8123, "/m/model.json", ["/o/a.json"])
    head, _, data = url.partition("?data=")
    assert head == "http://127.0.0.1:8123/"  # Model Explorer's server on the loopback only
    assert json.loads(unquote(data)) == {"models": [{"url": "/m/model.json"}], "nodeData": ["/o/a.json"],
                                         "nodeDataTargets": [""]}  # fmt: skip


def test_sensitivity_rank_lands_on_the_layers_nodes():
    """tune names graph layers by a node-name prefix ('.../block_1_depthwise'): every node of that
    layer takes its rank, and nothing else does."""
    graph = {"modelTopology": {"node": [_node("x", "Placeholder"), _node("m/b1/w", "Const"),
             _node("m/b1/conv", "Conv2D", "x", "m/b1/w"), _node("m/b1/relu", "Relu", "m/b1/conv"),
             _node("m/b10/conv", "Relu", "m/b1/relu")]}}  # fmt: skip
    record = {"variant": "uint8", "summary": {"exact_db": EXACT_DB}, "nodes": []}
    files = overlays(record, graph, [], [{"layer": "m/b1"}, {"layer": "m/b10"}])
    ranks = files["uint8.sensitivity-rank"]["results"]
    assert ranks == {"m/b1/conv": {"value": 1.0}, "m/b1/relu": {"value": 1.0}, "m/b10/conv": {"value": 2.0}}


def test_values_inside_a_while_loop_are_not_fetched():
    # x -> Enter -> Merge <-> NextIteration (body: add) ; Switch -> Exit -> after
    nodes = [_node("x", "Placeholder"), _node("enter", "Enter", "x"),
             _node("merge", "Merge", "enter", "next"), _node("cond", "Less", "merge"),
             _node("loopcond", "LoopCond", "cond"),
             _node("switch", "Switch", "merge", "loopcond"), _node("body", "AddV2", "switch:1"),
             _node("next", "NextIteration", "body"), _node("exit", "Exit", "switch"),
             _node("after", "Relu", "exit"), _node("beside", "Relu", "x")]  # fmt: skip
    g = ActivationGraph.from_graph_model({"modelTopology": {"node": nodes}}, {"after": "y"})
    assert sorted(g.nodes) == ["after", "beside"]


def test_a_layers_models_figures_go_on_the_nodes_of_each_layer_in_its_graph_form():
    """Hand-made: the graph form of a layers model names its nodes .../<layer>/<op>; a layer's
    figure lands on each of its nodes (the worst of several figures), d3's never on d3_1's, a
    weight's ("d3/kernel") on its layer's, and Const nodes (hidden by Model Explorer) get none."""
    from quantlab.analysis.model_explorer import _onto_layer_nodes
    from quantlab.convert.viewing_graph import nodes_by_layer, owning_layer

    def layer(name):
        return {"class_name": "Dense", "config": {"name": name}}

    layers_json = {"modelTopology": {"model_config": {"config": {"layers": [layer("d3"), layer("d3_1")]}}}}
    graph = {"modelTopology": {"node": [
        {"name": "StatefulPartitionedCall/m/d3/MatMul", "op": "MatMul"},
        {"name": "StatefulPartitionedCall/m/d3/Relu", "op": "Relu"},
        {"name": "StatefulPartitionedCall/m/d3/MatMul/ReadVariableOp", "op": "Const"},
        {"name": "StatefulPartitionedCall/m/d3_1/BiasAdd", "op": "BiasAdd"},
        {"name": "Identity", "op": "Identity"},
    ]}}  # fmt: skip
    assert owning_layer("d3/kernel", {"d3", "d3_1"}) == "d3" and owning_layer("x/y", {"d3"}) is None
    # an op named as a layer is ("add_1" in a LayerNormalization's arithmetic) stays with its scope's
    # layer; a node with no scope (an input) is its own layer's
    odd = {"modelTopology": {"node": [{"name": "StatefulPartitionedCall/m/ln/batchnorm/add_1", "op": "AddV2"},
                                      {"name": "x", "op": "Placeholder"}]}}  # fmt: skip
    assert nodes_by_layer(odd, {"ln", "add_1", "x"}) == {
        "ln": ["StatefulPartitionedCall/m/ln/batchnorm/add_1"],
        "x": ["x"],
    }
    assert nodes_by_layer(graph, {"d3", "d3_1"}) == {
        "d3": ["StatefulPartitionedCall/m/d3/MatMul", "StatefulPartitionedCall/m/d3/Relu"],
        "d3_1": ["StatefulPartitionedCall/m/d3_1/BiasAdd"],
    }
    placed = _onto_layer_nodes(graph, layers_json, {"d3": 30.0, "d3/kernel": 12.0, "d3_1": 50.0})
    assert placed == {
        "StatefulPartitionedCall/m/d3/MatMul": 12.0,
        "StatefulPartitionedCall/m/d3/Relu": 12.0,
        "StatefulPartitionedCall/m/d3_1/BiasAdd": 50.0,
    }
    assert (
        _onto_layer_nodes(graph, layers_json, {"d3": 1.0, "d3/kernel": 7.0}, worst=max)[
            "StatefulPartitionedCall/m/d3/Relu"
        ]
        == 7.0
    )


def test_depth_chart_draws_one_line_per_output_branch():
    """A two-output graph: a shared trunk (depth 1, 2) feeding both heads, then a head each. Each
    output's line keeps, per depth, the worst node feeding it (an exact node at 120 dB); a node not
    compared is left out. By hand: head "a" = (1, 40 trunk) (2, 30 trunk2) (3, 10 a1);
    head "b" = (1, 40) (2, 30) (3, 120 b1, exact)."""
    from quantlab.report.depth_chart import branch_lines, depth_chart

    curve = [
        {"node": "trunk", "depth": 1, "sqnr_db": 40.0, "outputs": ["a", "b"]},
        {"node": "trunk2", "depth": 2, "sqnr_db": 30.0, "outputs": ["a", "b"]},
        {"node": "side", "depth": 2, "sqnr_db": 35.0, "outputs": ["a"]},  # better than trunk2: not drawn
        {"node": "a1", "depth": 3, "sqnr_db": 10.0, "outputs": ["a"]},
        {"node": "b1", "depth": 3, "sqnr_db": None, "identical": True, "outputs": ["b"]},
        {"node": "skipped", "depth": 3, "sqnr_db": None, "outputs": ["b"]},  # not compared
    ]
    lines = branch_lines(curve, 120.0)
    assert lines == {
        "a": [(1, 40.0, "trunk"), (2, 30.0, "trunk2"), (3, 10.0, "a1")],
        "b": [(1, 40.0, "trunk"), (2, 30.0, "trunk2"), (3, 120.0, "b1")],
    }
    svg = str(depth_chart(curve, 120.0, "uint8"))
    assert svg.count('class="branch"') == 2 and svg.count("<circle") == 6
    assert ">a</text>" in svg and ">b</text>" in svg and "a1: 10.0 dB" in svg and "b1: 120.0 dB" in svg

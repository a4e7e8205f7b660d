"""What a tfjs model.json's topology says about its weights: which op reads each constant, and so
which weights are learned kernels (per-output-channel tensors) rather than biases, PReLU alphas,
BatchNorm vectors or shape constants. Pure Python: the format's knowledge in one place.

A graph model keeps every weight as a Const node named like the manifest entry
(`modelTopology.node`, and `library.function[].nodeDef` for control-flow bodies, whose Const nodes
the converter renames to be unique). An input is "name", "name:1" (output 1), "name:output:0"
(inside a function body) or "^name" (a control dependency: ordering only, no value read). A layers
model has a Keras topology instead, and its weight names end in the Keras variable name."""

from __future__ import annotations

# Ops whose input 1 is a learned kernel (filter / weight matrix). Conv2DBackpropInput and
# Conv3DBackpropInputV2 take (input_sizes, filter, out_backprop): the filter is input 1 too.
# Seen in the zoo ($QUANTLAB_ZOO, 18 shipped graph models): Conv2D, _FusedConv2D,
# DepthwiseConv2dNative, FusedDepthwiseConv2dNative, MatMul, _FusedMatMul, BatchMatMulV2,
# Conv2DBackpropInput; the rest are the other kernel ops tfjs-converter's op list maps.
DEPTHWISE_OPS = frozenset({"DepthwiseConv2dNative", "DepthwiseConv2d", "FusedDepthwiseConv2dNative"})
MATMUL_OPS = frozenset({"MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "_FusedMatMul"})
KERNEL_OPS = (
    frozenset({"Conv1D", "Conv2D", "_FusedConv2D", "Conv3D", "Conv2DBackpropInput", "Conv3DBackpropInputV2"})
    | DEPTHWISE_OPS
    | MATMUL_OPS
)

# Layers models: the Keras variable names of kernels (a weight name is "<layer>/<variable>").
LAYERS_KERNEL_SUFFIXES = (
    "/kernel",
    "/depthwise_kernel",
    "/pointwise_kernel",
    "/recurrent_kernel",
    "/embeddings",
)


def is_graph(model_json: dict) -> bool:
    """A tfjs graph model: `format: graph-model`, or a GraphDef topology (node/library keys); the
    rule of quantlab.sources.tfjs_model_format."""
    if model_json.get("format") == "graph-model":
        return True
    topology = model_json.get("modelTopology")
    return isinstance(topology, dict) and ("node" in topology or "library" in topology)


def _node_lists(model_json: dict) -> list[list[dict]]:
    """The node lists of a graph model, each its own naming scope: the main graph, then each
    library function's body."""
    topology = model_json.get("modelTopology")
    if not isinstance(topology, dict):
        return []
    scopes = [topology.get("node") or []]
    library = topology.get("library")
    functions = library.get("function") if isinstance(library, dict) else None
    for fn in functions or []:
        if isinstance(fn, dict):
            scopes.append(fn.get("nodeDef") or fn.get("node_def") or [])
    return [[n for n in nodes if isinstance(n, dict)] for nodes in scopes if isinstance(nodes, list)]


def const_consumers(model_json: dict) -> dict[str, list[tuple[str, int]]]:
    """Each Const node's name -> (op, input index) of every node that reads its value, in
    topology order; a Const nobody reads (or only as a "^control" input) maps to []. A function
    body's inputs resolve against that body's own nodes."""
    out: dict[str, list[tuple[str, int]]] = {}
    for nodes in _node_lists(model_json):
        consts = {n["name"] for n in nodes if n.get("op") == "Const" and isinstance(n.get("name"), str)}
        for name in consts:
            out.setdefault(name, [])
        for node in nodes:
            for index, ref in enumerate(node.get("input") or []):
                if not isinstance(ref, str) or ref.startswith("^"):
                    continue
                source = ref.split(":", 1)[0]  # "name:1", "name:output:0" -> "name"
                if source in consts:
                    out[source].append((str(node.get("op")), index))
    return out


def weight_readers(model_json: dict) -> dict[str, list[str]]:
    """{Const node name: the main graph's nodes that read its value} (by name, where
    const_consumers gives their ops)."""
    nodes = model_json["modelTopology"].get("node") or []
    consts = {n["name"] for n in nodes if n.get("op") == "Const"}
    out: dict[str, list[str]] = {}
    for n in nodes:
        for ref in n.get("input") or []:
            base = ref.split(":", 1)[0]
            if not ref.startswith("^") and base in consts:
                out.setdefault(base, []).append(n["name"])
    return out


def _manifest_names(model_json: dict) -> list[str]:
    return [
        w["name"]
        for group in model_json.get("weightsManifest") or []
        if isinstance(group, dict)
        for w in group.get("weights") or []
        if isinstance(w, dict) and isinstance(w.get("name"), str)
    ]


def _graph_kernels(model_json: dict, ops: frozenset) -> set[str]:
    return {
        name
        for name, readers in const_consumers(model_json).items()
        if any(op in ops and (i == 1 or (i == 0 and op in MATMUL_OPS)) for op, i in readers)
    }


def kernel_weights(model_json: dict) -> set[str]:
    """Names of the weights that are learned kernels. Graph model: Const nodes read as input 1 of
    a KERNEL_OPS node (or as input 0 of a MatMul-like one). Layers model: manifest names ending in
    a kernel variable (LAYERS_KERNEL_SUFFIXES); not biases, gammas, moving statistics, alphas."""
    if is_graph(model_json):
        return _graph_kernels(model_json, KERNEL_OPS)
    return {n for n in _manifest_names(model_json) if n.endswith(LAYERS_KERNEL_SUFFIXES)}


def depthwise_weights(model_json: dict) -> set[str]:
    """The depthwise kernels ([h, w, in, multiplier]: in * multiplier output channels), which a
    graph model names freely (e.g. "unknown_1"): read as input 1 of a depthwise op; in a layers
    model, the "/depthwise_kernel" variables."""
    if is_graph(model_json):
        return _graph_kernels(model_json, DEPTHWISE_OPS)
    return {n for n in _manifest_names(model_json) if n.endswith("/depthwise_kernel")}

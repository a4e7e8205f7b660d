"""The activations of a tfjs model as a graph a diagnosis walks: which values can be fetched (graph
models: every node output of the main graph; layers models: every layer's output), what each one
reads, how deep it lies, which model outputs it feeds, and how to split a set of them into groups
that can each be run in one call on fed inputs (no member reads another: the "local error" runs).

Graph models come from model.json's `modelTopology.node` (inputs "name", "name:k", "^ctrl");
layers models from the runtime's description of the loaded model (js/browser/runner.js gives
each layer's inbound layers), so Sequential and functional models read the same. Pure Python."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# Never fetched: weights, feeds, and the control-flow plumbing whose outputs only exist inside a
# loop frame (tfjs cannot return them by name from execute()).
SKIPPED_OPS = frozenset(
    {
        "Const", "Placeholder", "PlaceholderWithDefault", "NoOp", "Enter", "Exit", "Merge", "Switch",
        "NextIteration", "LoopCond", "LoopCondition", "TensorArrayV3", "TensorListReserve",
    }
)  # fmt: skip


# Ops whose output is a handle or a flow token (TensorArray, TensorList, hash tables), not a value.
SKIPPED_PREFIXES = ("TensorArray", "TensorList", "HashTable", "LookupTable", "MutableHashTable")


def fetchable_op(op: str) -> bool:
    return op not in SKIPPED_OPS and not op.startswith(SKIPPED_PREFIXES)


def input_key(ref: str) -> str:
    """A node input as a fetch/feed key: "name" for output 0, "name:k" for another output."""
    name, _, index = ref.rpartition(":")
    return name if name and index == "0" else ref


def base_name(key: str) -> str:
    name, _, index = key.rpartition(":")
    return name if name and index.isdigit() else key


@dataclass
class ActivationGraph:
    """nodes: fetchable names in topological order; op: what each one is; reads: its data inputs
    as keys (model inputs and weights left out); depth: longest path from a model input;
    feeds_outputs: the model outputs each one reaches (their names); output_nodes: the node that
    is each output, where it is one of `nodes`."""

    nodes: list[str]
    op: dict[str, str]
    reads: dict[str, list[str]]
    depth: dict[str, int] = field(default_factory=dict)
    feeds_outputs: dict[str, list[str]] = field(default_factory=dict)
    output_nodes: dict[str, str] = field(default_factory=dict)  # {output name: the node that is it}

    @classmethod
    def from_graph_model(cls, model_json: dict, outputs: dict[str, str]) -> ActivationGraph:
        """outputs: {output node name: output name as the runtime calls it}."""
        raw = [n for n in model_json["modelTopology"].get("node") or [] if isinstance(n, dict)]
        kind = {n["name"]: n.get("op", "") for n in raw}
        frames = _frame_depth(raw)
        wanted = [n for n in raw if fetchable_op(n.get("op", "")) and frames[n["name"]] == 0]
        names = {n["name"] for n in wanted}
        reads = {
            n["name"]: [
                input_key(ref)
                for ref in n.get("input") or []
                if not ref.startswith("^") and kind.get(base_name(input_key(ref))) not in ("Const", None)
                and base_name(input_key(ref)) in names
            ]
            for n in wanted
        }  # fmt: skip
        order = _topological([n["name"] for n in wanted], reads)
        return cls._finish(order, {k: kind[k] for k in order}, reads, outputs)

    @classmethod
    def from_layers(cls, layers: list[dict], outputs: Iterable[str]) -> ActivationGraph:
        """layers: [{name, class_name, inbound}] as the runtime describes the loaded model."""
        kept = [la for la in layers if la.get("class_name") != "InputLayer"]
        names = {la["name"] for la in kept}
        reads = {la["name"]: [i for i in la.get("inbound") or [] if i in names] for la in kept}
        order = _topological([la["name"] for la in kept], reads)
        op = {la["name"]: la.get("class_name", "") for la in kept}
        return cls._finish(order, op, reads, {o: o for o in outputs})

    @classmethod
    def _finish(cls, order, op, reads, outputs: dict[str, str]) -> ActivationGraph:
        depth: dict[str, int] = {}
        for name in order:
            depth[name] = 1 + max((depth[base_name(k)] for k in reads[name]), default=0)
        reach: dict[str, set[str]] = {name: set() for name in order}
        for node, label in outputs.items():
            if node in reach:
                reach[node].add(label)
        for name in reversed(order):  # consumers come later: push what each reaches to its inputs
            for k in reads[name]:
                reach[base_name(k)] |= reach[name]
        ends = {label: node for node, label in outputs.items() if node in reach}
        return cls(order, op, reads, depth, {k: sorted(v) for k, v in reach.items()}, ends)

    def groups(self, members: list[str]) -> list[dict]:
        """`members` split into groups [{nodes, feeds, reads}] run one call each (reads: each
        node's own feeds): no node of a group reads
        another, and no group feeds two outputs of one node (tfjs keeps one fed output per node).
        Greedy colouring in topological order: a node takes the first group it fits."""
        chosen: list[dict] = []
        colour: dict[str, int] = {}
        for name in members:
            keys = self.reads[name]
            blocked = {colour[base_name(k)] for k in keys if base_name(k) in colour}
            for c, group in enumerate(chosen):
                if c in blocked:
                    continue
                fed = {base_name(f): f for f in group["feeds"]}
                if any(base_name(k) in fed and fed[base_name(k)] != k for k in keys):
                    continue
                if any(base_name(f) == name for f in group["feeds"]):
                    continue  # a member may not be fed in its own group
                break
            else:
                c = len(chosen)
                chosen.append({"nodes": [], "feeds": [], "reads": []})
            colour[name] = c
            chosen[c]["nodes"].append(name)
            chosen[c]["reads"].append(list(keys))  # a node retried alone is fed only these
            chosen[c]["feeds"].extend(k for k in keys if k not in chosen[c]["feeds"])
        return chosen


def _frame_depth(raw: list[dict]) -> dict[str, int]:
    """How many loop frames each node lies in (v1 control flow: Enter opens one, Exit closes it):
    a value inside a while loop exists once per iteration and cannot be fetched by name."""
    every = {n["name"]: [input_key(r) for r in n.get("input") or [] if not r.startswith("^")] for n in raw}
    op = {n["name"]: n.get("op", "") for n in raw}
    order = _topological(list(every), every)
    depth = dict.fromkeys(order, 0)
    for _ in range(len(order)):  # a loop's back edge (NextIteration -> Merge) needs passes to settle
        changed = False
        for name in order:
            d = max((depth.get(base_name(k), 0) for k in every[name]), default=0)
            d = d + 1 if op[name] == "Enter" else max(0, d - 1) if op[name] == "Exit" else d
            if d != depth[name]:
                depth[name], changed = d, True
        if not changed:
            break
    return depth


def _topological(names: list[str], reads: dict[str, list[str]]) -> list[str]:
    """names ordered so that every node comes after what it reads (model.json lists nodes in any
    order); stable for the ones already in order. Iterative: graphs have thousands of nodes."""
    position = {n: i for i, n in enumerate(names)}
    done: set[str] = set()
    entered: set[str] = set()  # a cycle (none outside loop frames, which are skipped) ends here
    order: list[str] = []
    for root in names:
        stack = [(root, False)]
        while stack:
            name, expanded = stack.pop()
            if name in done:
                continue
            if expanded:
                done.add(name)
                order.append(name)
                continue
            if name in entered:
                continue
            entered.add(name)
            stack.append((name, True))
            deps = sorted({base_name(k) for k in reads[name]} - done, key=position.get, reverse=True)
            stack.extend((d, False) for d in deps if d in position)
    return order

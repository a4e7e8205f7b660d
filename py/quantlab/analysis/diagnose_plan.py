"""How a diagnosis fits in memory: each node output's size at one example (fetched by name, a few
per call; the nodes tfjs cannot return by name found and left out), then calls that each hold at
most --max-memory: node groups in topological order, and as many examples per call as fit."""

from __future__ import annotations

from pathlib import Path

from ..errors import EvaluatorError, QuantlabError
from ..runtimes import make_runtime
from ..runtimes.op_support import missing_op, missing_op_error
from ..tfjs import MODEL_JSON
from ..tfjs.activation_graph import ActivationGraph

SIZING_NODES = 32  # node outputs fetched per sizing call (one example)
COPIES = 3  # a call holds float32's outputs, V's, and one local group's


def node_bytes(runtime, ref, x1, nodes: list[str]) -> tuple[dict[str, int], dict[str, str]]:
    """Bytes of each node's output for one example (x1), fetched a few nodes per call; and the
    nodes tfjs cannot return by name (a call that fails is retried node by node), with why.
    Every node failing is the model's failure, raised as it came."""
    sizes: dict[str, int] = {}
    refused: dict[str, str] = {}
    for k in range(0, len(nodes), SIZING_NODES):
        names = nodes[k : k + SIZING_NODES]
        try:
            outs, _ = runtime.predict(ref, x1, batch_size=1, layers=names)
        except EvaluatorError as e:
            if "PREDICT_FAILED" not in str(e) or missing_op(str(e)):
                raise  # a kernel the runtime lacks is the model's problem, not one node's
            outs = []
            for name in names:
                try:
                    outs.append(runtime.predict(ref, x1, batch_size=1, layers=[name])[0][0])
                except EvaluatorError as one:
                    if "PREDICT_FAILED" not in str(one) or missing_op(str(one)):
                        raise
                    refused[name] = str(one).split("PREDICT_FAILED: ", 1)[-1][:200]
                    outs.append(None)
            if all(o is None for o in outs) and not sizes:
                raise
        sizes.update({name: int(o.nbytes) for name, o in zip(names, outs, strict=True) if o is not None})
    return sizes, refused


def measure_sizes(
    runtime, ref, x1, nodes: list[str], float32: Path, runtime_name: str, timeout: float
) -> tuple[dict, dict]:
    """node_bytes; a kernel the runtime lacks is named, with a runtime that runs it here (checked)."""
    try:
        return node_bytes(runtime, ref, x1, nodes)
    except EvaluatorError as e:

        def runs_on(name: str) -> bool:
            with make_runtime(name, timeout=timeout) as other:
                other.predict(
                    other.load(float32),
                    x1,
                    batch_size=len(next(iter(x1.values())) if isinstance(x1, dict) else x1),
                )
            return True

        err = missing_op_error(e, float32 / MODEL_JSON, runtime_name, runs_on)
        if err is None:
            raise
        raise err from None


def plan_calls(
    graph: ActivationGraph,
    nodes: list[str],
    sizes: dict[str, int],
    max_bytes: float,
    n: int,
    fixed: int | None,
) -> list[tuple[list[str], int]]:
    """[(node group, examples per call)]: each call within max_bytes (COPIES of its outputs)."""
    for name in nodes:
        if sizes[name] * COPIES > max_bytes:
            raise QuantlabError(
                f"node {name}: one example's output is {sizes[name] / 1e6:.1f} MB, and a diagnosis holds "
                f"{COPIES} copies; past --max-memory {max_bytes / 1e6:g} MB (raise it)",
                exit_code=2,
            )
    groups: list[list[str]] = [[]]
    used = 0
    for name in nodes:
        if groups[-1] and (used + sizes[name]) * COPIES > max_bytes:
            groups.append([])
            used = 0
        groups[-1].append(name)
        used += sizes[name]
    plan = []
    for group in groups:
        per = sum(sizes[k] for k in group) * COPIES
        examples = fixed or max(1, min(n, int(max_bytes // max(per, 1))))
        if fixed and per * fixed > max_bytes:
            raise QuantlabError(
                f"the model takes batches of exactly {fixed}: {per * fixed / 1e6:.1f} MB per call for node "
                f"{group[0]}, past --max-memory {max_bytes / 1e6:g} MB (raise it)",
                exit_code=2,
            )
        plan.append((group, examples))
    return plan

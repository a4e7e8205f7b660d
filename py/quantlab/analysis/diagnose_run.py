"""`quantlab diagnose DEMO|MODEL --variant V`: where in the network V's error enters. float32 and V
run in one tfjs runtime on the same inputs; every node's output (layers: every layer's) is
compared in the runtime (js/browser/compare.js), in calls sized to a memory cap:

  accumulated  V's node output against float32's (the error carried to this point)
  local        the node alone, run with V's weights on float32's values of its inputs (the error
               this node adds), as ONNX Runtime's qdq_loss_debug separates them
  range        float32's own values: float16 overflow and sub-normals (node_error.py)

The record (OUT/<name>/diagnose/<variant>.json) keeps every node's figures; the summary names
the nodes where the accumulated SQNR falls most, the worst local errors, and the first node
whose values leave float16's range."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import workspace
from ..errors import QuantlabError
from ..infra.fsutil import write_json_atomic
from ..infra.progress import log, progress
from ..input_spec import fixed_batch
from ..results import created_now
from ..runtimes import make_runtime
from ..runtimes.base import head, input_specs, n_examples
from ..tfjs import MODEL_JSON
from ..tfjs.activation_graph import ActivationGraph, base_name
from .diagnose_outputs import explorer_files
from .diagnose_plan import measure_sizes, plan_calls
from .diagnose_summary import summarise
from .node_error import error_figures, range_figures, resample_counts
from .subject import Subject

DEFAULT_EXAMPLES = 64
DEFAULT_MAX_MB = 512.0


@dataclass
class DiagnoseOptions:
    variant: str = "uint8"
    runtime: str = "node-wasm"
    limit: int = DEFAULT_EXAMPLES  # 0: every example
    max_mb: float = DEFAULT_MAX_MB
    nodes: list[str] = field(default_factory=list)  # only these (default every node)
    top: int = 5
    timeout: float = 600.0


def activation_graph(loaded) -> ActivationGraph:
    if loaded.format == "graph":
        model_json = json.loads((Path(loaded.model_dir) / MODEL_JSON).read_text())
        outputs = {o.get("node", o["name"]).split(":")[0]: o["name"] for o in loaded.outputs}
        return ActivationGraph.from_graph_model(model_json, outputs)
    return ActivationGraph.from_layers(loaded.layers, loaded.output_names)


def pick_nodes(graph: ActivationGraph, wanted: list[str]) -> list[str]:
    if not wanted:
        return list(graph.nodes)
    known = set(graph.nodes)
    for name in wanted:
        if name not in known:
            import difflib

            close = difflib.get_close_matches(name, graph.nodes, n=3)
            hint = (
                f"; close: {', '.join(close)}" if close else f"; it has {len(graph.nodes)} (see the record)"
            )
            raise QuantlabError(f"--node {name}: no such node in the model{hint}", exit_code=2)
    return [n for n in graph.nodes if n in set(wanted)]


def _slice(x, start: int, stop: int):
    return {k: v[start:stop] for k, v in x.items()} if isinstance(x, dict) else x[start:stop]


def measure_diagnose(subject: Subject, opts: DiagnoseOptions) -> dict:
    """Diagnose subject's variant; writes OUT/<name>/diagnose/<variant>.json and returns it."""
    t_start = time.perf_counter()
    if opts.variant == "float32":
        raise QuantlabError("--variant float32: it is the reference; name a quantized variant", exit_code=2)
    subject.check_variants([opts.variant])
    subject.claim()
    timings = {"sizing_s": 0.0, "fetch_compare_s": 0.0, "run_s": 0.0, "compare_s": 0.0, "summarise_s": 0.0,
               "write_s": 0.0}  # fmt: skip
    with workspace.locked_folders(subject.root, subject.results_dir), contextlib.ExitStack() as stack:
        paths = subject.variant_dirs(["float32", opts.variant])
        runtime = stack.enter_context(make_runtime(opts.runtime, timeout=opts.timeout))
        ref = runtime.load(paths["float32"])
        variant = runtime.load(paths[opts.variant])
        graph = activation_graph(ref)
        nodes = pick_nodes(graph, opts.nodes)
        x, details = subject.diagnose_inputs(ref, opts.limit)
        fixed = fixed_batch(input_specs(ref))
        n = n_examples(x)
        if fixed and n % fixed:
            n -= n % fixed
            x = head(x, n)
        if n == 0:
            raise QuantlabError(f"no examples to diagnose (the model takes batches of {fixed})", exit_code=2)
        t0 = time.perf_counter()
        sizes, refused = measure_sizes(
            runtime, ref, head(x, fixed or 1), nodes, paths["float32"], opts.runtime, opts.timeout
        )
        if refused:
            log.warning(
                "%d node(s) tfjs cannot return by name are left out (the record lists them)", len(refused)
            )
            nodes = [name for name in nodes if name not in refused]
        if fixed and fixed > 1:
            sizes = {k: v // fixed for k, v in sizes.items()}
        timings["sizing_s"] = time.perf_counter() - t0
        plan = plan_calls(graph, nodes, sizes, opts.max_mb * 1e6, n, fixed)
        per_node = _run(runtime, ref, variant, x, n, graph, plan, timings, set(graph.nodes) - set(refused))
        t0 = time.perf_counter()
        rows = node_rows(nodes, per_node, graph, sizes, resample_counts(n))
        record = {
            "model": subject.name,
            "variant": opts.variant,
            "runtime": runtime.describe(),
            "format": ref.format,
            "n_examples": n,
            **details,
            "nodes": rows,
            "not_fetchable": refused,
            "summary": summarise(rows, graph, opts.top),
            "calls": sum(-(-n // e) for _, e in plan),
        }
        timings["summarise_s"] = time.perf_counter() - t0
        record["peak_rss_mb"] = _peak_rss(runtime)
        stack.close()
        t0 = time.perf_counter()
        path = workspace.diagnose_path(subject.out_dir, subject.name, opts.variant)
        path.parent.mkdir(parents=True, exist_ok=True)
        record["model_explorer"] = explorer_files(record, paths, path.parent, subject)
        timings["write_s"] = time.perf_counter() - t0  # the overlays; the record itself is small
        record["seconds"] = {k: round(v, 2) for k, v in timings.items()}
        record["seconds"]["total_s"] = round(time.perf_counter() - t_start, 1)
        record["created"] = created_now()
        write_json_atomic(path, record)
        record["path"] = str(path)
    return record


def _peak_rss(runtime) -> dict:
    """MB: this process, and the runtime's (the evaluator or Chromium's page) where it says."""
    import resource

    out = {"python": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    peak = getattr(runtime, "peak_rss_mb", None)
    if peak is not None:
        out["runtime"] = peak()
    return out


def node_rows(nodes: list[str], per_node: dict, graph: ActivationGraph, sizes: dict, counts) -> list[dict]:
    """The record's row per node: where it lies, and its figures where it could be compared."""
    rows = []
    for name in nodes:
        got = per_node[name]
        row = {
            "node": name,
            "op": graph.op[name],
            "depth": graph.depth[name],
            "outputs": graph.feeds_outputs.get(name, []),
            "shape": [None, *got["shape"][1:]] if got["acc"] is not None else got["shape"],
            "bytes_per_example": sizes[name],
            "compared": got["acc"] is not None,  # not: integer, or not batched along axis 0
        }
        if row["compared"]:
            row["accumulated"] = error_figures(got["acc"], counts).as_dict()
            row["local"] = error_figures(got["local"], counts).as_dict() if got["local"] else None
            if got.get("local_error"):
                row["local_error"] = got["local_error"]  # tfjs would not run it alone
            row["range"] = range_figures(got["acc"])
        rows.append(row)
    return rows


def _run(runtime, ref, variant, x, n, graph, plan, timings, fetchable: set[str]) -> dict:
    """{node: {shape, acc: {stat: per-example vector}, local: ... or None}} over every call."""
    per_node: dict[str, dict] = {}
    calls = [(group, start, min(n, start + e)) for group, e in plan for start in range(0, n, e)]
    t0 = time.perf_counter()
    with progress() as bar:
        task = bar.add_task("diagnose", total=len(calls), info="")
        for group, start, stop in calls:
            members = set(group)
            # a node reading a value tfjs cannot return by name gets no local run
            runnable = [m for m in group if all(base_name(k) in fetchable for k in graph.reads[m])]
            colours = graph.groups(runnable)
            extra = sorted({k for c in colours for k in c["feeds"]} - members)
            r = runtime.compare(ref, variant, _slice(x, start, stop), group, extra, colours)
            timings["run_s"] += r["ms"]["run"] / 1000  # tfjs executing the models
            timings["compare_s"] += r["ms"]["stats"] / 1000  # the sums over every output
            names = r["stats"]
            for got in r["nodes"]:
                slot = per_node.setdefault(got["name"], {"shape": got["shape"], "acc": None, "local": None})
                if got.get("local_error"):
                    slot["local_error"] = got["local_error"]  # tfjs would not run it alone
                for kind in ("acc", "local"):
                    if got[kind] is None:
                        continue
                    block = np.asarray(got[kind], dtype=np.float64)
                    new = {s: block[:, i] for i, s in enumerate(names)}
                    old = slot[kind]
                    slot[kind] = new if old is None else {s: np.concatenate([old[s], new[s]]) for s in names}
            bar.update(task, advance=1, info=f"{len(group)} nodes, examples {start}-{stop - 1}")
    timings["fetch_compare_s"] = time.perf_counter() - t0
    return per_node

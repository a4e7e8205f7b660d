"""`quantlab analyze MODEL`: a user's model through the same road as the demos.

source -> float32 tfjs artifact (stock converter) -> quantized variants (converter's weight
writer) -> one tfjs runtime (load, predict named inputs) -> tasks (fidelity to float32, plus
accuracy/MAE with labels) -> results.json -> report. Nothing here imports demo code."""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import workspace
from ..convert.converter import VARIANTS, dtype_map_for
from ..convert.source import check_output_format, write_float32
from ..errors import DataError, EvaluatorError
from ..infra.progress import log
from ..input_spec import InputOptions, fixed_batch
from ..inputs import InputSet, load_inputs
from ..results import write_results
from ..runtimes.base import input_specs
from ..runtimes.op_support import MissingOp
from ..sources import ModelSource
from ..tfjs import MODEL_JSON
from ..tfjs.artifacts import read_artifact
from ..workspace import model_root, results_dir
from .analyze_record import Run, build_record
from .evaluate import measure_variants
from .executors import make_pool
from .jobs import BATCH_BYTES, REQUEST_BYTES, sized, values_per_example
from .model_outputs import output_names
from .variant_row import artifact_sizes

CHUNK = 1024  # examples per request to the runtime: bounds memory, gives the bar its steps


@dataclass
class AnalyzeOptions:
    name: str
    variants: list[str] = field(default_factory=lambda: list(VARIANTS))
    custom_map: dict | None = None
    custom_name: str = "custom"
    output_format: str | None = None
    inputs: InputOptions = field(default_factory=InputOptions)
    task: str = "auto"
    runtime: str = "node-wasm"
    runtime_given: bool = True  # False: the default runtime, which may fall back on a missing op
    batch_size: int = 256
    timeout: float = 600.0
    workers: int | None = None  # None: the rule in pool.default_workers
    executor: str = "local"
    ray_address: str | None = None
    models_dir: Path = Path("models")
    out_dir: Path = Path("reports")
    outputs: list[str] | None = None  # --output: which outputs count (None: all)
    min_effect: dict[str, float] = field(default_factory=dict)
    allow_nonfinite: bool = False  # go on when a learned weight holds NaN/Inf (kept float32)
    litert: bool = False  # also the LiteRT variants, in LiteRT.js (analysis/litert_run.py)
    litert_runtime: str = "browser-litert-wasm"
    calibration: int = 0  # full-int8 calibration examples held out of --inputs (0: min(100, n // 4))


def _variant_plan(opts: AnalyzeOptions) -> dict[str, dict | None]:
    plan = {v: dtype_map_for(v) for v in opts.variants}
    if opts.custom_map:
        plan[opts.custom_name] = opts.custom_map
    return plan


def write_variants(source: ModelSource, opts: AnalyzeOptions, root: Path) -> tuple[dict[str, Path], dict]:
    """The float32 artifact, then each variant of the plan from it. Constants holding NaN/Inf stay
    float32 in every variant (requantize keeps them; listed here in the returned record); NaN/Inf
    in a learned weight stops here unless opts.allow_nonfinite (then it stays float32 too, with a
    warning)."""
    from ..convert.requantize import read_weight_groups, requantize
    from ..convert.weight_checks import check_weights_quantizable
    from ..tfjs.constants import split_nonfinite

    made = write_float32(source, root / "float32", opts.output_format)
    paths = {"float32": root / "float32"}
    plan = {k: v for k, v in _variant_plan(opts).items() if k != "float32"}
    keep: set[str] = set()
    if plan:
        model_json, groups = read_weight_groups(root / "float32")
        constants, bad = split_nonfinite(model_json, [(e["name"], e["data"]) for g in groups for e in g])
        if constants:
            log.info(
                "%d constant tensor(s) hold NaN/Inf on purpose and stay float32 in every variant: %s",
                len(constants), ", ".join(f"{n} ({', '.join(c['values'])})" for n, c in constants.items()),
            )  # fmt: skip
            made["kept_float32"] = {"constants": constants}
        if bad and opts.allow_nonfinite:
            log.warning("--allow-nonfinite: learned weights holding NaN/Inf stay float32: %s", ", ".join(bad))
            made.setdefault("kept_float32", {})["nonfinite_weights"] = bad
            keep = set(bad)
    for name, dtype_map in plan.items():
        paths[name] = requantize(root / "float32", root / name, dtype_map, check_weights_quantizable, keep)
    return paths, made


def analyze(source: ModelSource, opts: AnalyzeOptions, detect_s: float = 0.0) -> dict:
    """Convert, run every variant in one tfjs runtime, measure; writes OUT/<name>/results.json."""
    t_start = time.perf_counter()
    root = model_root(opts.models_dir, opts.name)
    result_dir = results_dir(opts.out_dir, opts.name)
    check_output_format(source, opts.output_format)  # usage errors before any folder is made
    if opts.litert:
        from .litert_run import check_litert_runtime, check_litert_source

        check_litert_source(source)
        check_litert_runtime(opts.litert_runtime, opts.timeout)
    if opts.inputs.path is not None and not Path(opts.inputs.path).exists():
        raise DataError(f"--inputs {opts.inputs.path}: no such file or folder")
    above = [workspace.missing_folders(root.parent), workspace.missing_folders(result_dir.parent)]
    made = [root] if workspace.claim_model_root(root, source.model_json or source.path) else []
    try:
        if workspace.claim(result_dir, "results folder"):
            made.append(result_dir)
        return _analyze(source, opts, root, result_dir, t_start, detect_s)
    except BaseException:
        for folder in made:  # a failed or interrupted run leaves no folder it made (only those)
            shutil.rmtree(folder, ignore_errors=True)
        for chain in above:  # nor an empty --models-dir or --out it made
            workspace.remove_empty(chain)
        raise


def _analyze(
    source: ModelSource, opts: AnalyzeOptions, root: Path, result_dir: Path, t_start: float, detect_s: float
) -> dict:
    split = {"detect": detect_s}
    with workspace.locked(root), workspace.locked(result_dir):
        t0 = time.perf_counter()
        paths, made = write_variants(source, opts, root)
        split["convert"] = time.perf_counter() - t0
        # Compression figures of every variant (seconds for a large float32 model) run in threads
        # (zlib and brotli release the GIL) while the evaluators predict.
        sizes_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="quantlab-sizes")
        sizes = {name: sizes_pool.submit(artifact_sizes, read_artifact(p)) for name, p in paths.items()}
        sizes_pool.shutdown(wait=False)
        try:
            measured = _measure(paths, opts, split)
        except MissingOp as e:
            if opts.runtime_given or e.alternative is None:
                raise
            log.warning("%s; measuring in %s instead (--runtime to choose)", e, e.alternative)
            fallback = {"from": opts.runtime, "to": e.alternative, "op": e.op}
            opts = replace(opts, runtime=e.alternative)
            measured = _measure(paths, opts, split)
            measured.runtime_fallback = fallback
        t0 = time.perf_counter()
        sizes = {name: f.result() for name, f in sizes.items()}
        split["sizes_wait"] = time.perf_counter() - t0
        litert = _litert(source, opts, root, measured, sizes, split) if opts.litert else None
        plan = _variant_plan(opts)
        results = build_record(
            source, opts, root, paths, made, measured, split, t_start, detect_s, sizes, plan
        )
        if litert:
            from .litert_run import litert_section

            for row in results["variants"]:
                if row["name"] in litert[0]:
                    row["runtime"].update(
                        name=opts.litert_runtime, backend=litert[1]["backend"], tfjs_version=None
                    )
            results["litert"] = litert_section(
                litert[0], litert[1], results["variants"], results["primary_metric"]
            )
        write_results(opts.out_dir, opts.name, results)
    return results


def _litert(source, opts: AnalyzeOptions, root: Path, run: Run, sizes: dict, split: dict):
    """The LiteRT variants measured into `run` beside the tfjs ones; their sizes into `sizes`."""
    from .litert_run import litert_sizes, measure_litert

    t0 = time.perf_counter()
    reference = run.measured["float32"].outputs
    measured, paths, info = measure_litert(
        source,
        root,
        run.calibration,
        run.specs,
        run.inputs,
        reference,
        run.out_names,
        opts.litert_runtime,
        opts.timeout,
    )
    run.measured.update(measured)
    sizes.update({v: litert_sizes(p) for v, p in paths.items()})
    split["litert"] = time.perf_counter() - t0
    return paths, info


def _measure(paths: dict[str, Path], opts: AnalyzeOptions, split: dict) -> Run:
    t0 = time.perf_counter()
    with make_pool(opts.runtime, opts.workers, opts.timeout, opts.executor, opts.ray_address) as runtime:
        split["load"] = split["transfer"] = split["predict"] = 0.0
        loaded32 = runtime.inspect(paths["float32"], "float32")  # starts a worker; float32 stays loaded
        split["runtime_start"] = time.perf_counter() - t0 - loaded32.load_ms / 1000
        specs = input_specs(loaded32)
        inputs = load_inputs(specs, opts.inputs)
        if inputs.synthetic:
            log.warning(
                "no --inputs: %d synthetic examples in %s (seed %d); fidelity only, and real data "
                "may exercise the model very differently",
                inputs.n,
                inputs.description["range"],
                inputs.description["seed"],
            )
        calibration = None
        if opts.litert:  # held out before anything is scored: no variant is scored on them
            calibration, inputs = inputs.split_off(opts.calibration or max(1, min(100, inputs.n // 4)))
        fixed = fixed_batch(specs)
        values = values_per_example(inputs.arrays)
        tfjs_batch = sized(opts.batch_size, values, BATCH_BYTES)
        batch = {"fixed": fixed, "size": fixed or tfjs_batch}
        if fixed:
            batch["padded"] = -inputs.n % fixed
            log.info(
                "the model takes batches of exactly %d: %d examples run %d at a time%s", fixed, inputs.n,
                fixed, f" (the last batch padded with {batch['padded']} repeats, their outputs dropped)"
                if batch["padded"] else "",
            )  # fmt: skip
        _check_runs(runtime, paths["float32"], inputs, fixed, opts)
        chunk = sized(CHUNK, values, REQUEST_BYTES)
        measured = measure_variants(runtime, paths, inputs, opts.name, tfjs_batch, chunk, fixed)
        for m in measured.values():
            split["load"] += m.load_ms / 1000
            split["transfer"] += m.timings.transfer_ms / 1000
            split["predict"] += m.timings.predict_ms / 1000
        out_names = output_names(loaded32.outputs, len(measured["float32"].outputs))
        return Run(
            measured,
            inputs,
            specs,
            out_names,
            runtime.describe(),
            runtime.ran,
            batch,
            calibration=calibration,
        )


def _check_runs(pool, float32: Path, inputs: InputSet, fixed: int | None, opts: AnalyzeOptions) -> None:
    """One example of float32 first (one fixed batch where the model takes nothing else): a
    kernel the runtime lacks is named, with a runtime that ran it here, before every variant
    fails the same way. One example, not a padded batch: a large model spent most of a short
    run here."""
    from ..runtimes.op_support import missing_op_error
    from .evaluate import pad_to
    from .jobs import Job

    batch = fixed or 1
    first = next(inputs.chunks(batch))
    x = pad_to(next(iter(first.values())) if len(first) == 1 else first, batch)  # n < batch: padded
    try:
        pool.map_jobs([Job("float32", float32, x, batch)], 1)
    except EvaluatorError as e:

        def runs_on(name: str) -> bool:
            with make_pool(name, 1, opts.timeout) as other:
                other.map_jobs([Job("float32", float32, x, batch)], 1)
            return True

        err = missing_op_error(e, float32 / MODEL_JSON, opts.runtime, runs_on)
        if err is None:
            raise
        raise err from None

"""The `quantlab` command line."""

from __future__ import annotations

import contextlib
import functools
import math
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from typer.exceptions import TyperException

from ..demos.registry import ALL_DEMOS, check_demo_name, get_demo
from ..errors import CANNOT_WRITE_EXIT, QuantlabError, cannot_write
from ..infra.progress import console, log, setup_logging, table_console
from ..infra.signals import exit_code as interrupt_exit_code
from ..infra.signals import interrupt_on_signals, signal_name
from ..inputs import SYNTHETIC_SAMPLES, SYNTHETIC_SEED
from .checks import (
    check_backend,
    check_choice,
    check_limit,
    check_non_negative,
    check_path,
    check_positive,
    check_seed,
)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode="markdown",
    help="""Measure what float16, uint16 and uint8 weights cost a model **once it runs in
TensorFlow.js**.

Typical use:

* `quantlab data` - check which data files are found (set QUANTLAB_DATA or --data-dir)
* `quantlab run --quick` - a few-minute smoke run of every demo
* `quantlab run mnist` - train, convert, quantize and evaluate one demo at full size
* `quantlab report --open` - re-render reports/ from existing results.json files

Exit codes: 0 ok, 1 error, 2 bad usage, 3 data problem, 4 broken model artifact,
5 tfjs evaluator failure, 6 parity out of tolerance, 7 no variant within the tune budget,
8 cannot write the output (disk full, read-only), 130 interrupted.""",
)

DemoArg = Annotated[
    list[str] | None,
    typer.Argument(help=f"Demos to process (default: all): {', '.join(ALL_DEMOS)}", show_default=False),
]
DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Folder with the data sets (else $QUANTLAB_DATA, else ~/.cache/quantlab)",
        show_default=False,
    ),
]
OutDir = Annotated[Path, typer.Option("--out", help="Where results.json and HTML reports go")]
ModelsDir = Annotated[Path, typer.Option("--models-dir", help="Where trained models and tfjs variants go")]
Quick = Annotated[bool, typer.Option("--quick", help="Smoke profile: 1-3 epochs, data subsets")]
Backend = Annotated[
    str,
    typer.Option(
        "--backend",
        help="tfjs backend in Node: wasm, cpu or tensorflow (tfjs-node, after `quantlab setup --tfjs-node`)",
    ),
]
Timeout = Annotated[float, typer.Option("--timeout", help="Seconds to wait for one tfjs job")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Debug logs (incl. Node stderr)")]
Workers = Annotated[
    int | None,
    typer.Option(
        "--workers",
        help="Evaluator processes working in parallel (default: one per core for wasm and cpu, which run "
        "on one thread in Node; 1 for tfjs-node, which uses every core itself)",
        show_default=False,
    ),
]
Executor = Annotated[
    str,
    typer.Option("--executor", help="local (evaluators on this machine) or ray (Ray actors; quantlab[ray])"),
]
RayAddress = Annotated[
    str | None,
    typer.Option(
        "--ray-address", help="With --executor ray: join this cluster (host:port or auto)", show_default=False
    ),
]


def _version_callback(value: bool) -> None:
    if value:
        from .. import __version__
        from ..runtimes.node_packages import tfjs_version

        typer.echo(f"quantlab {__version__} (tfjs {tfjs_version() or 'unknown'})")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print quantlab's and tfjs' versions"
        ),
    ] = False,
) -> None:
    pass


def _pool_options(workers: int | None, executor: str, ray_address: str | None) -> None:
    """--workers, --executor, --ray-address: checked before any work (exit 2)."""
    from ..analysis.pool import EXECUTORS, check_workers

    check_workers(workers)
    if executor not in EXECUTORS:
        raise QuantlabError(f"--executor {executor!r}: valid: {', '.join(EXECUTORS)}", exit_code=2)
    if ray_address and executor != "ray":
        raise QuantlabError("--ray-address needs --executor ray", exit_code=2)
    if executor == "ray":
        from ..analysis.pool_ray import check_ray

        check_ray(ray_address)


def _workers_line(pool) -> None:
    console.print(
        f"{pool.ran} worker{'s' if pool.ran != 1 else ''} ran ({pool.executor} executor, {pool.name})",
        highlight=False,
    )


def cli_errors(fn):
    """One-line errors and documented exit codes instead of tracebacks. SIGTERM and SIGHUP unwind
    like Ctrl-C (quantlab.infra.signals), so the same cleanup runs; exit code 128 + signal."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        verbose = bool(kwargs.get("verbose", False))
        setup_logging(verbose)
        try:
            with interrupt_on_signals():
                return fn(*args, **kwargs)
        except QuantlabError as e:
            console.print(f"[red]error:[/red] {escape(str(e))}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt as e:  # Ctrl-C, and SIGTERM/SIGHUP as signals.Terminated
            console.print(
                f"[red]interrupted by {signal_name(e)}[/red]: no partial results were written",
                markup=True,
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(interrupt_exit_code(e)) from None
        except (typer.Exit, typer.Abort, TyperException):
            raise  # typer.Exit, usage errors (click's exceptions): typer handles them
        except Exception as e:
            if verbose:
                raise  # the traceback
            unwritable = cannot_write(e)
            if unwritable:  # a full disk, a read-only folder: the file, what, and exit 8
                console.print(f"[red]error:[/red] {escape(unwritable)}", markup=True, highlight=False,
                              soft_wrap=True)  # fmt: skip
                raise typer.Exit(CANNOT_WRITE_EXIT) from None
            console.print(
                f"[red]error:[/red] {escape(type(e).__name__)}: {escape(str(e))} "
                "(rerun with --verbose for the traceback)",
                markup=True,
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(1) from None

    return wrapper


def _demos(names: list[str] | None):
    """The demos named (default: all of them)."""
    from ..demos.registry import DEMOS

    return [get_demo(n) for n in (names or list(DEMOS))]


def _model_path(names: list[str] | None) -> Path | None:
    """A user's MODEL given where a DEMO may be: one argument that is not a demo name but a path."""
    from ..demos.registry import DEMOS

    if not names or len(names) != 1 or names[0] in DEMOS:
        return None
    name = names[0]
    # a path, an existing file or folder, or a file name (mnist.h5, model.json): no demo has a suffix
    if "/" in name or Path(name).exists() or Path(name).suffix:
        return Path(name)
    return None


def _model_only(**given) -> None:
    """Refuse (exit 2) an option that only means something for a user's MODEL, given with a demo."""
    for key, value in given.items():
        if value is not None:
            flag = "--" + key.rstrip("_").replace("_", "-")
            raise QuantlabError(f"{flag}: only for your MODEL, not a demo", exit_code=2)


def _print_json(obj) -> None:
    """--json: strict JSON on stdout (NaN/Inf as null plus a "<key>_nonfinite" sibling), which
    any JSON parser reads, as results.json is written."""
    from ..infra.fsutil import dumps_strict

    sys.stdout.write(dumps_strict(obj) + "\n")


def _check_tfjs_runtime(runtime: str) -> None:
    """--runtime of a command that measures tfjs: any runtime but keras."""
    from ..runtimes import RUNTIMES

    check_choice(runtime, [r for r in RUNTIMES if r != "keras"], "--runtime")


def _preprocessings() -> tuple[str, ...]:
    from ..demos.datasets.imagenet import PREPROCESSING

    return PREPROCESSING


def _model_name(model: Path, name: str | None) -> str:
    """--name, or the MODEL's file or folder name: one plain name, not a demo's (MODELS/<demo>/,
    OUT/<demo>/ are the demos') nor a file quantlab writes at the top of OUT."""
    from .. import workspace

    return workspace.check_name(
        name or workspace.name_from_path(model), "--name", set(ALL_DEMOS) | workspace.OUT_FILES
    )


def warn_nonfinite(record: dict) -> None:
    """A warning in the terminal, not only on the page, when a demo's weights or figures hold
    NaN/Inf: the run ends 0 (the numbers are what tfjs computed), but none of them means much."""
    name = record.get("demo", "?")
    weights = sorted({t["name"] for w in (record.get("weight_error") or {}).values()
                      for t in (w or {}).get("tensors", []) if t.get("nonfinite_reference")})  # fmt: skip
    if weights:
        more = f" and {len(weights) - 3} more" if len(weights) > 3 else ""
        log.warning(
            "%s: its float32 weights hold NaN/Inf (%s%s): every figure is computed from a broken model; "
            "retrain it or fix those weights", name, ", ".join(weights[:3]), more,
        )  # fmt: skip
    figures = [
        f"{v['name']} {k}"
        for v in record.get("variants", [])
        for k, x in (v.get("metrics") or {}).items()
        if isinstance(x, float) and not math.isfinite(x)
    ]
    if figures:
        log.warning("%s: NaN/Inf figures (%s): the outputs hold NaN/Inf", name, ", ".join(figures[:4]))


def _summary(all_results: list[dict], as_json: bool) -> None:
    if as_json:
        _print_json(all_results)
        return
    from rich.table import Table

    table = Table(title="quantlab: metrics measured in tfjs")
    for col in ("demo", "variant", "metric", "value", "seed", "weight bytes", "gzip ratio"):
        table.add_column(col, justify="left" if col in ("demo", "variant", "metric") else "right")
    for r in all_results:
        for v in r["variants"]:
            key = r["primary_metric"]
            seed = r["seed"].get(v["name"])
            table.add_row(
                r["demo"],
                v["name"],
                key,
                f"{v['metrics'][key]:.4f}",
                "–" if seed is None else f"{seed:.4f}",
                f"{v['weight_bytes']:,}",
                f"{v['gzip_ratio']:.3f}",
            )
    table_console().print(table)


def _parse_maps(items: list[str] | None) -> dict | None:
    """--map DTYPE=PATTERN[,PATTERN...] (repeatable) -> the converter's quantization_dtype_map."""
    if not items:
        return None
    dtype_map: dict = {}
    for item in items:
        dtype, _, patterns = item.partition("=")
        if not dtype or not patterns:
            raise QuantlabError(f"--map {item!r}: expected DTYPE=PATTERN[,PATTERN...]", exit_code=2)
        from ..convert.converter import QUANT_DTYPES

        if dtype not in QUANT_DTYPES:
            raise QuantlabError(
                f"--map {item!r}: unknown dtype {dtype!r}; valid: {', '.join(QUANT_DTYPES)}", exit_code=2
            )
        dtype_map[dtype] = True if patterns == "*" else patterns.split(",")
    return dtype_map


# Inputs for a user's model: the same options in `analyze` and `parity MODEL`.
InputsOpt = Annotated[
    Path | None,
    typer.Option(
        "--inputs",
        help="FILE.npy (one input), FILE.npz (arrays named after the inputs), or a folder of "
        "images; none: seeded synthetic inputs",
        show_default=False,
    ),
]
LabelsKey = Annotated[str, typer.Option(help="Labels array in the .npz")]
ImageSize = Annotated[int | None, typer.Option(help="Images: resize to SIZE x SIZE (default: the model's)")]
Scale = Annotated[str, typer.Option(help="Images: map pixels 0..255 linearly onto LO,HI")]
InputRange = Annotated[
    str | None, typer.Option(help="Synthetic inputs: uniform in LO,HI (default 0,1; integers 0,10)")
]
Samples = Annotated[int, typer.Option(help="Synthetic inputs: how many examples")]
InputShape = Annotated[
    list[str] | None,
    typer.Option("--input-shape", help="NAME:DIMS for dynamic dimensions, e.g. x:1,128 (repeatable)"),
]
Seed = Annotated[int, typer.Option(help="Seed of synthetic inputs")]
# The same, on commands that take a DEMO or a MODEL (evaluate, tune): they apply to a MODEL only.
ModelInputs = Annotated[
    Path | None, typer.Option("--inputs", help="MODEL only: .npy, .npz or image folder (as analyze)")
]
ModelLabelsKey = Annotated[str, typer.Option(help="MODEL only: labels array in the .npz")]
ModelImageSize = Annotated[
    int | None, typer.Option(help="MODEL only, image folder: resize to SIZE x SIZE (default: the model's)")
]
ModelScale = Annotated[str, typer.Option(help="MODEL only, image folder: map pixels 0..255 onto LO,HI")]
ModelInputRange = Annotated[
    str | None, typer.Option(help="MODEL only, synthetic inputs: uniform in LO,HI (default 0,1)")
]
ModelInputShape = Annotated[
    list[str] | None,
    typer.Option(help="MODEL only: NAME:D1,D2,... for an input's unknown dimensions (repeatable)"),
]
OutputFormat = Annotated[
    str | None,
    typer.Option(help="layers or graph (default: layers for Keras files, graph for SavedModels)"),
]
FormatOverride = Annotated[
    str | None,
    typer.Option(
        "--format",
        help="MODEL's format, insisted on: tfjs-layers, tfjs-graph, keras-h5, keras-v3 or saved-model "
        "(picks the SavedModel in a folder that also has a model.json; a model of another format is refused)",
    ),
]
ModelName = Annotated[
    str | None, typer.Option(help="Results name: MODELS/NAME/, OUT/NAME/ (default: from MODEL)")
]


def input_options(
    inputs: Path | None,
    labels_key: str,
    image_size: int | None,
    scale: str,
    input_range: str | None,
    samples: int,
    input_shape: list[str] | None,
    seed: int,
    limit: int | None,
):
    """The InputOptions of a user's model from the shared command-line options (checked: exit 2)."""
    from ..inputs import InputOptions, parse_input_shapes, parse_range

    check_positive(samples, "--samples")
    check_seed(seed)
    if limit is not None:
        check_positive(limit, "--limit")
    if image_size is not None:
        check_positive(image_size, "--image-size")
    return InputOptions(
        path=inputs,
        labels_key=labels_key,
        image_size=image_size,
        scale=parse_range(scale, "--scale"),
        input_range=parse_range(input_range, "--input-range") if input_range else None,
        samples=samples,
        input_shapes=parse_input_shapes(input_shape or []),
        seed=seed,
        limit=limit,
    )


@app.command()
@cli_errors
def analyze(
    models: Annotated[
        list[Path],
        typer.Argument(
            help="One or more models: a tfjs layers or graph model (a folder, or its manifest: "
            "model.json or NAME.json as a package ships it), a Keras .h5 or .keras file, or a "
            "SavedModel folder",
            show_default=False,
        ),
    ],
    inputs: InputsOpt = None,
    labels_key: LabelsKey = "y",
    image_size: ImageSize = None,
    scale: Scale = "0,1",
    input_range: InputRange = None,
    samples: Samples = SYNTHETIC_SAMPLES,
    input_shape: InputShape = None,
    limit: Annotated[int | None, typer.Option(help="Use the first N examples only")] = None,
    variants: Annotated[
        str, typer.Option("--variants", help="Comma-separated: float32,float16,uint16,uint8")
    ] = "float32,float16,uint16,uint8",
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="An extra mixed-precision variant: DTYPE=PATTERN[,PATTERN...] (repeatable), "
            "weight names as in "
            "the manifest, e.g. --map 'uint8=*' --map 'float16=*/moving_variance'",
        ),
    ] = None,
    map_name: Annotated[str, typer.Option(help="Folder name of the --map variant")] = "custom",
    output_format: OutputFormat = None,
    format_: FormatOverride = None,
    task: Annotated[str, typer.Option(help="auto, classification, regression or fidelity")] = "auto",
    runtime: Annotated[
        str | None,
        typer.Option(
            "--runtime",
            "-r",
            help="tfjs runtime to measure in [default: node-wasm; when it lacks an op the model "
            "uses, a Node runtime that ran the model here]",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        list[str] | None,
        typer.Option(
            "--output",
            help="An output that counts for the headline and verdict (repeatable; default: every "
            "output). The others are still judged and shown",
        ),
    ] = None,
    min_effect: Annotated[
        list[str] | None,
        typer.Option(
            "--min-effect",
            help="METRIC=VALUE (repeatable): the smallest change that counts as a loss, e.g. "
            "cosine_mean=0.001, top1_agreement=0.01, accuracy=0.005",
        ),
    ] = None,
    allow_nonfinite: Annotated[
        bool,
        typer.Option(
            "--allow-nonfinite",
            help="Go on when a learned weight holds NaN/Inf (it stays float32 in every variant)",
        ),
    ] = False,
    name: ModelName = None,
    out: OutDir = Path("reports"),
    models_dir: ModelsDir = Path("models"),
    timeout: Timeout = 600.0,
    seed: Seed = SYNTHETIC_SEED,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results record as JSON")] = False,
    workers: Workers = None,
    executor: Executor = "local",
    ray_address: RayAddress = None,
    verbose: Verbose = False,
) -> None:
    """Your model, your data: convert to float32/float16/uint16/uint8 tfjs variants, run each in
    TensorFlow.js, and judge every output against float32 (plus accuracy or MAE when labels are
    given). A variant's headline is its worst output.

    Examples: `quantlab analyze my_model.h5 --inputs test.npz`;
    `quantlab analyze web_model/ --inputs images/ --scale -1,1`;
    `quantlab analyze faceres.json` (a shipped NAME.json + NAME.bin, synthetic inputs);
    `quantlab analyze models/*.json` (many models: one page each and OUT/overview.html)
    """
    from .. import workspace
    from ..analysis.analyze import AnalyzeOptions
    from ..convert.converter import dtype_map_for
    from ..judge import parse_min_effect
    from ..tasks import TASKS
    from .analyze_many import analyze_models

    chosen = [v.strip() for v in variants.split(",") if v.strip()]
    for v in chosen:
        dtype_map_for(v)
    if "float32" not in chosen:
        chosen.insert(0, "float32")  # the reference every fidelity figure is measured against
    if runtime is not None:
        _check_tfjs_runtime(runtime)
    if task not in TASKS:
        raise QuantlabError(f"--task {task!r}: valid: {', '.join(TASKS)}", exit_code=2)
    input_opts = input_options(
        inputs, labels_key, image_size, scale, input_range, samples, input_shape, seed, limit
    )
    check_positive(timeout, "--timeout")
    _pool_options(workers, executor, ray_address)
    custom = _parse_maps(map_)
    margins = parse_min_effect(min_effect or [])
    if name is not None and len(models) > 1:
        raise QuantlabError(
            "--name names one model; with several MODELs each is named by its file", exit_code=2
        )
    if custom:
        workspace.check_name(map_name, "--map-name", workspace.RESERVED)
    workspace.check_writable_dir(out, "--out")
    workspace.check_writable_dir(models_dir, "--models-dir")

    def options(model: Path) -> AnalyzeOptions:
        return AnalyzeOptions(
            name=_model_name(model, name),
            variants=chosen,
            custom_map=custom,
            custom_name=map_name,
            output_format=output_format,
            inputs=input_opts,
            task=task,
            runtime=runtime or "node-wasm",
            runtime_given=runtime is not None,
            timeout=timeout,
            workers=workers,
            executor=executor,
            ray_address=ray_address,
            models_dir=models_dir,
            out_dir=out,
            outputs=output,
            min_effect=margins,
            allow_nonfinite=allow_nonfinite,
        )

    analyze_models(models, options, format_, out, as_json)


@app.command()
@cli_errors
def equalize(
    model: Annotated[
        Path,
        typer.Argument(
            help="tfjs graph model (folder or model.json), SavedModel folder or Keras file "
            "(converted to a float32 graph model first)",
            show_default=False,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for the equalized float32 graph model")],
    inputs: Annotated[
        Path | None,
        typer.Option(
            "--inputs",
            help="Calibration inputs to measure the float32 change on: FILE.npy, FILE.npz or a folder "
            "of images; none: seeded synthetic inputs",
            show_default=False,
        ),
    ] = None,
    relu6: Annotated[
        str,
        typer.Option(
            help="A ReLU6 between two rescaled layers: clip (exact: ReLU then a per-channel Minimum), "
            "relu (make it ReLU, as DFQ did), keep (leave it; its clip moves) or skip (leave such pairs)"
        ),
    ] = "clip",
    tolerance: Annotated[
        float, typer.Option(help="Largest float32 output change allowed (relative L2) without --force")
    ] = 1e-4,
    force: Annotated[bool, typer.Option("--force", help="Write even beyond --tolerance")] = False,
    snap_clips: Annotated[
        bool,
        typer.Option(
            "--snap-clips",
            help="--relu6 clip: put the clip constants exactly on their uint8 grid (round up)",
        ),
    ] = False,
    bias_correction: Annotated[
        str | None,
        typer.Option(
            "--bias-correction",
            help="Also correct the biases for quantization to DTYPE (uint8), calibrated on up to "
            "--calibration of the inputs: the model written is then meant to be quantized to DTYPE",
            metavar="DTYPE",
        ),
    ] = None,
    calibration: Annotated[
        int, typer.Option(help="--bias-correction: how many inputs (evenly spaced) to calibrate on")
    ] = 64,
    image_size: ImageSize = None,
    scale: Scale = "0,1",
    input_range: InputRange = None,
    samples: Samples = SYNTHETIC_SAMPLES,
    limit: Annotated[int | None, typer.Option(help="Use the first N examples only")] = None,
    runtime: Annotated[str, typer.Option("--runtime", "-r", help="tfjs runtime to measure in")] = "node-wasm",
    timeout: Timeout = 600.0,
    seed: Seed = SYNTHETIC_SEED,
    as_json: Annotated[bool, typer.Option("--json", help="Print the record as JSON")] = False,
    verbose: Verbose = False,
) -> None:
    """Cross-layer equalization (Nagel et al., DFQ 2019) of consecutive conv/depthwise layers of a
    graph model, so that one per-tensor uint8 grid fits every channel: writes an ordinary float32
    tfjs graph model (same nodes and weight names, rescaled weights) that stock tfjs loads and
    `tensorflowjs_converter`'s or quantlab's quantization flags quantize. The float32 change and
    uint8's error before and after are measured in tfjs; beyond --tolerance nothing is written
    unless --force (exit 6). A model without equalizable pairs is left alone (exit 0).
    --bias-correction uint8 then subtracts each conv's expected uint8 output shift from its bias
    (DFQ's bias correction, calibrated in tfjs on the inputs).

    Example: `quantlab equalize mobilenet_sm/ --out mobilenet_eq --inputs images/ --scale -1,1 --limit 200`
    or, for a model to ship all-uint8: `... --bias-correction uint8`"""
    from ..convert.equalize import RELU6_MODES, run_equalize
    from ..sources import detect

    check_choice(relu6, RELU6_MODES, "--relu6")
    _check_tfjs_runtime(runtime)
    check_non_negative(tolerance, "--tolerance")
    check_positive(timeout, "--timeout")
    check_positive(calibration, "--calibration")
    _check_dirs(out=out)
    if bias_correction is not None:
        check_choice(bias_correction, ["uint8"], "--bias-correction")  # what uint8_after measures
    opts = input_options(inputs, "y", image_size, scale, input_range, samples, None, seed, limit)
    source = detect(model)
    record = run_equalize(
        source, out, opts, relu6, tolerance, force, runtime, timeout, snap_clips, bias_correction, calibration
    )
    if as_json:
        _print_json(record)
        return
    if record["status"] == "no-pairs":
        found = record["pairs_found"]
        why = f"{found} found, none usable (see --relu6)" if found else "none in the graph"
        console.print(
            f"{model}: no equalizable conv/depthwise pairs ({why}); nothing written",
            highlight=False,
            soft_wrap=True,
        )
        return
    eq = record["equalization"]
    f32, before, after = record["float32_change"], record["uint8_before"], record["uint8_after"]
    console.print(
        f"equalized {len(eq['pairs'])} pairs ({len(eq['skipped'])} skipped) in {eq['sweeps']} sweeps; "
        f"ReLU6 -> ReLU in {len(eq['relu6_replaced_by_relu'])} layers",
        highlight=False,
    )
    console.print(
        f"float32 change on {record['inputs']['n']} inputs: relative L2 {f32['rel_l2']:.3g}, "
        f"cosine mean {f32['cosine_mean']:.6f} min {f32['cosine_min']:.6f}"
        + (" (beyond --tolerance: --force)" if record["forced"] else ""),
        highlight=False,
    )
    console.print(
        f"uint8 vs float32, worst output (#{after.get('output_index', 0)}, {after.get('output_kind', '?')}): "
        f"cosine mean {before['cosine_mean']:.4f} -> {after['cosine_mean']:.4f}, "
        f"relative L2 {before['rel_l2']:.3g} -> {after['rel_l2']:.3g}"
        + (" (equalized, then bias-corrected)" if record.get("bias_correction") else ""),
        highlight=False,
    )
    bc = record.get("bias_correction")
    if bc:
        only = record["uint8_after_equalization_only"]
        console.print(
            f"bias correction for {bc['target']}: {bc['n_layers']} biases, calibrated on "
            f"{bc['n_calibration']} inputs; uint8 cosine mean without it {only['cosine_mean']:.4f}; "
            f"the model written is meant to be quantized to {bc['target']}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"wrote {out} (and {out}/equalize.json)", highlight=False)


def _check_dirs(**dirs: Path | None) -> None:
    """--out, --models-dir, ...: each is, or can become, a folder; checked before any work."""
    from ..workspace import check_writable_dir

    for option, path in dirs.items():
        if path is not None:  # --data-dir is only read, but a file or a 256-byte name is no folder
            check_writable_dir(path, "--" + option.replace("_", "-"))


@contextlib.contextmanager
def _locked(*folders: Path) -> Iterator[None]:
    """Hold the run's lock on each folder (MODELS/<demo>, OUT/<demo>) while it writes there: a
    second run on the same folder gets one line (exit 1) instead of mixing its variants in."""
    from ..workspace import locked

    with contextlib.ExitStack() as stack:
        for folder in {Path(f).resolve(): Path(f) for f in folders}.values():  # --out may be --models-dir
            try:
                stack.enter_context(locked(folder))
            except OSError as e:  # read-only, no permission, ...: before any work, not a traceback
                raise QuantlabError(f"{folder}: cannot write here ({e.strerror or e})", exit_code=2) from None
        yield


@app.command()
@cli_errors
def run(
    demos: DemoArg = None,
    quick: Quick = False,
    backend: Backend = "wasm",
    data_dir: DataDir = None,
    out: OutDir = Path("reports"),
    models_dir: ModelsDir = Path("models"),
    seed: int = 1337,
    timeout: Timeout = 600.0,
    weights: Annotated[
        Path | None, typer.Option(help="mobilenetv2: a Keras .h5 weights file (full or _no_top)")
    ] = None,
    preprocessing: Annotated[
        str, typer.Option(help="mobilenetv2: keras ([-1, 1], what the model expects) or seed (/255)")
    ] = "keras",
    limit: Annotated[
        int | None,
        typer.Option(
            help="Evaluate the first N test examples/images (default: all; with --quick the quick "
            "profile's subset; 0 = all)"
        ),
    ] = None,
    alpha: Annotated[float, typer.Option(help="mobilenetv2: width multiplier (> 0)")] = 1.0,
    image_size: Annotated[int, typer.Option(help="mobilenetv2: input size (> 0)")] = 224,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON")] = False,
    workers: Workers = None,
    executor: Executor = "local",
    ray_address: RayAddress = None,
    verbose: Verbose = False,
) -> None:
    """Train, convert, quantize and evaluate demos in tfjs, then write the HTML report.

    Examples: `quantlab run --quick` (smoke run of every demo, minutes);
    `quantlab run mnist`; `quantlab run mobilenetv2 --limit 200 --preprocessing seed`
    """
    from ..analysis.pool import make_pool
    from ..demos.registry import DemoOptions
    from ..report import render_reports

    names = [check_demo_name(n) for n in (demos or ALL_DEMOS)]
    _pool_options(workers, executor, ray_address)
    check_seed(seed)
    check_backend(backend)
    check_choice(preprocessing, _preprocessings(), "--preprocessing")
    check_positive(timeout, "--timeout")
    check_positive(alpha, "--alpha")
    check_positive(image_size, "--image-size")
    all_limit = limit == 0
    limit = check_limit(limit)
    _check_dirs(out=out, models_dir=models_dir, data_dir=data_dir)
    if weights is not None:
        check_path(weights, "--weights")
    opts = DemoOptions(
        data_dir, quick, seed, 0 if all_limit else limit, weights, preprocessing, alpha, image_size
    )
    all_results = []
    folders = [Path(d) / n for n in names for d in (models_dir, out)]
    pool = make_pool(f"node-{backend}", workers, timeout, executor, ray_address)
    with _locked(*folders), pool as runtime:
        for name in names:
            # Every demo takes the same road: prepare (train or build) -> quantize -> evaluate.
            demo = get_demo(name)
            t0 = time.perf_counter()
            demo.prepare(models_dir, opts)
            t1 = time.perf_counter()
            demo.quantize(models_dir, data_dir=data_dir)
            config = {
                "quick": quick,
                "backend": backend,
                "seed": seed,
                "step_seconds": {
                    "prepare": round(t1 - t0, 1),
                    "quantize": round(time.perf_counter() - t1, 1),
                },
            }
            all_results.append(demo.evaluate(runtime, models_dir, out, opts, config=config))
            warn_nonfinite(all_results[-1])
    render_reports(out)
    _summary(all_results, as_json)
    if not as_json:
        _workers_line(pool)


@app.command()
@cli_errors
def train(
    demos: DemoArg = None,
    quick: Quick = False,
    data_dir: DataDir = None,
    models_dir: ModelsDir = Path("models"),
    seed: int = 1337,
    weights: Annotated[
        Path | None, typer.Option(help="mobilenetv2: a Keras .h5 weights file (full or _no_top)")
    ] = None,
    alpha: Annotated[float, typer.Option(help="mobilenetv2: width multiplier")] = 1.0,
    image_size: Annotated[int, typer.Option(help="mobilenetv2: input size")] = 224,
    verbose: Verbose = False,
) -> None:
    """Prepare demos' Keras models under MODELS_DIR/DEMO/keras: train them in tf-keras (seeded), or
    for mobilenetv2 build Keras' pretrained model from the weights file found."""
    from ..demos.registry import DemoOptions

    chosen = _demos(demos)
    check_seed(seed)
    check_positive(alpha, "--alpha")
    check_positive(image_size, "--image-size")
    _check_dirs(models_dir=models_dir, data_dir=data_dir)
    if weights is not None:
        check_path(weights, "--weights")
    opts = DemoOptions(data_dir, quick, seed, weights=weights, alpha=alpha, image_size=image_size)
    with _locked(*[Path(models_dir) / demo.name for demo in chosen]):
        for demo in chosen:
            demo.prepare(models_dir, opts)


@app.command()
@cli_errors
def quantize(
    demos: DemoArg = None,
    models_dir: ModelsDir = Path("models"),
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="Custom mixed precision: DTYPE=PATTERN[,PATTERN...] (repeatable), e.g. "
            "--map 'uint8=*/kernel' --map 'float16=*_BN/*'; DTYPE=* for all remaining weights",
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            help="With --map: the variant folder name (one plain name; not keras, tuned or a variant's) "
            "[default: custom]",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDir = None,
    format_: FormatOverride = None,
    verbose: Verbose = False,
) -> None:
    """Write the float32, float16, uint16 and uint8 tfjs variants of trained models (or, with --map,
    one custom variant; the matching `tensorflowjs_converter` command is printed).

    DEMO may also be your MODEL (any format `analyze` takes): its variants go to
    `MODELS_DIR/NAME/` (NAME: the file or folder name).
    Example: `quantlab quantize web_model/ --map 'uint8=*' --name small`"""
    if name is not None and not map_:  # it names the --map variant: alone it would be ignored
        raise QuantlabError(
            f"--name {name}: names the --map variant; without --map quantize writes the four standard "
            "variants (their folders are float32, float16, uint16, uint8)",
            exit_code=2,
        )
    name = "custom" if name is None else name
    model = _model_path(demos)
    if model is not None:
        _check_dirs(models_dir=models_dir)
        _quantize_model(model, models_dir, _parse_maps(map_), name if map_ else None, format_)
        return
    _model_only(format_=format_)
    from ..demos.pipeline import quantize_custom
    from ..workspace import RESERVED, check_name

    _check_dirs(models_dir=models_dir, data_dir=data_dir)
    if map_:
        dtype_map = _parse_maps(map_)
        if not demos:
            raise QuantlabError("--map needs a DEMO", exit_code=2)
        check_name(name, "--name", RESERVED)
        for demo_name in demos:
            check_demo_name(demo_name)
        with _locked(*[Path(models_dir) / d for d in demos]):
            for demo_name in demos:
                cmd = quantize_custom(demo_name, models_dir, name, dtype_map)
                if cmd:  # none for a graph model: the converter cannot re-quantize one
                    console.print("same as: " + shlex.join(cmd), highlight=False, soft_wrap=True)
        return
    chosen = _demos(demos)
    with _locked(*[Path(models_dir) / demo.name for demo in chosen]):
        for demo in chosen:
            demo.quantize(models_dir, data_dir=data_dir)


def _quantize_model(
    model: Path, models_dir: Path, custom: dict | None, custom_name: str | None, format_: str | None
) -> None:
    from .. import workspace
    from ..analysis.analyze import AnalyzeOptions, write_variants
    from ..convert.converter import converter_command
    from ..sources import detect

    source = detect(model, format_)
    name = workspace.model_name(model, set(ALL_DEMOS) | workspace.OUT_FILES)
    if custom_name is not None:
        workspace.check_name(custom_name, "--name", workspace.RESERVED)
    opts = AnalyzeOptions(
        name=name, custom_map=custom, custom_name=custom_name or "custom", models_dir=models_dir
    )
    if custom:  # as for a demo: --map writes the one custom variant (beside its float32 source)
        opts.variants = ["float32"]
    root = Path(models_dir) / name
    workspace.claim_model_root(root, source.model_json or source.path)
    with workspace.locked(root):
        paths, made = write_variants(source, opts, root)
    for folder in paths.values():
        console.print(f"wrote {folder}", highlight=False)
    if custom:
        if made["output_format"] == "layers":
            cmd = converter_command(paths["float32"] / "model.json", paths[opts.custom_name], custom)
            console.print("same as: " + shlex.join(cmd), highlight=False, soft_wrap=True)
        else:
            console.print(
                "graph models cannot be re-quantized by tensorflowjs_converter (tensorflow/tfjs#6154); "
                "this artifact was written with its weight writer (tensorflowjs.write_weights)",
                highlight=False,
            )


@app.command()
@cli_errors
def evaluate(
    demos: DemoArg = None,
    backend: Backend = "wasm",
    data_dir: DataDir = None,
    out: OutDir = Path("reports"),
    models_dir: ModelsDir = Path("models"),
    variant: Annotated[
        list[str] | None,
        typer.Option(
            help="Variants to evaluate (repeatable; default all): float32, float16, uint16, uint8, or any "
            "folder of MODELS/DEMO/ with a model.json (tuned, a --map name)"
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(help="Evaluate the first N test examples only (default and 0: all)")
    ] = None,
    preprocessing: Annotated[
        str, typer.Option(help="mobilenetv2: keras ([-1, 1], what the model expects) or seed (/255)")
    ] = "keras",
    inputs: ModelInputs = None,
    labels_key: ModelLabelsKey = "y",
    image_size: ModelImageSize = None,
    scale: ModelScale = "0,1",
    name: Annotated[
        str | None, typer.Option(help="MODEL only: folder name under --out and --models-dir (as analyze)")
    ] = None,
    input_range: ModelInputRange = None,
    samples: Annotated[
        int | None,
        typer.Option(help=f"MODEL only, no --inputs: synthetic examples (default {SYNTHETIC_SAMPLES})"),
    ] = None,
    input_shape: ModelInputShape = None,
    seed: Annotated[
        int | None, typer.Option(help=f"MODEL only: seed of synthetic inputs (default {SYNTHETIC_SEED})")
    ] = None,
    task: Annotated[
        str | None, typer.Option(help="MODEL only: auto, classification, regression or fidelity")
    ] = None,
    format_: FormatOverride = None,
    timeout: Timeout = 600.0,
    workers: Workers = None,
    executor: Executor = "local",
    ray_address: RayAddress = None,
    verbose: Verbose = False,
) -> None:
    """Evaluate existing tfjs variants in Node and write results.json (no training).

    DEMO may also be your MODEL: then this is `quantlab analyze MODEL` with these options
    (e.g. `quantlab evaluate web_model/ --inputs test.npz --variant float32 --variant uint8`)."""
    model = _model_path(demos)
    if model is not None:
        check_backend(backend)
        chosen = ",".join(variant or ["float32", "float16", "uint16", "uint8"])
        check_limit(limit)
        return analyze(
            [model], inputs=inputs, labels_key=labels_key, image_size=image_size, scale=scale,
            variants=chosen, runtime=f"node-{backend}", limit=limit or None, name=name, out=out,
            models_dir=models_dir, format_=format_, timeout=timeout, workers=workers,
            executor=executor, ray_address=ray_address, verbose=verbose, input_range=input_range,
            samples=SYNTHETIC_SAMPLES if samples is None else samples, input_shape=input_shape,
            seed=SYNTHETIC_SEED if seed is None else seed, task=task or "auto",
        )  # fmt: skip
    _model_only(
        format_=format_, input_range=input_range, samples=samples, input_shape=input_shape, seed=seed,
        task=task, inputs=inputs, image_size=image_size, name=name,
    )  # fmt: skip
    from ..analysis.pool import make_pool
    from ..convert.converter import dtype_map_for
    from ..demos.registry import DemoOptions

    _pool_options(workers, executor, ray_address)
    check_backend(backend)
    check_choice(preprocessing, _preprocessings(), "--preprocessing")
    chosen = _demos(demos)
    variants = variant or None  # None: each demo's own (the four, plus the graph demo's equalized)
    from .. import workspace

    for v in variants or []:
        workspace.check_name(v, "--variant")  # a folder under MODELS/<demo>/: one plain name
    extras = {v for demo in chosen for v in getattr(demo, "extra_variants", ())}
    for v in variants or []:
        made = all((Path(models_dir) / demo.name / v / "model.json").is_file() for demo in chosen)
        if v not in extras and not made:  # a tuned or --map variant is measured like the others
            dtype_map_for(v)  # validates the name
    all_limit = limit == 0
    limit = check_limit(limit)
    check_positive(timeout, "--timeout")
    _check_dirs(out=out, models_dir=models_dir, data_dir=data_dir)
    opts = DemoOptions(data_dir, limit=0 if all_limit else limit, preprocessing=preprocessing)
    folders = [Path(d) / demo.name for demo in chosen for d in (models_dir, out)]
    pool = make_pool(f"node-{backend}", workers, timeout, executor, ray_address)
    with _locked(*folders), pool as runtime:
        for demo in chosen:
            record = demo.evaluate(runtime, models_dir, out, opts, variants, config={"backend": backend})
            warn_nonfinite(record)
    _workers_line(pool)


@app.command()
@cli_errors
def report(
    out: OutDir = Path("reports"),
    open_: Annotated[bool, typer.Option("--open", help="Open index.html in your browser")] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Load every page in headless Chromium; fail on errors")
    ] = False,
    screenshots: Annotated[Path | None, typer.Option(help="With --check: save a PNG per page here")] = None,
    verbose: Verbose = False,
) -> None:
    """Re-render the HTML report from existing results.json files (runs nothing).

    Example: `quantlab report --check --screenshots /tmp/shots`
    """
    from ..report import render_reports

    _check_dirs(out=out, screenshots=screenshots)
    index = render_reports(out)
    if check:
        from ..report.browser_check import check_report

        found = check_report(out, screenshots)
        console.print(f"checked {len(found['pages'])} pages in Chromium")
        if not found["ok"]:
            raise QuantlabError(
                f"report check failed: console errors {found['console_errors']}, page errors "
                f"{found['page_errors']}, requests outside {out}: {found['outside_requests']}"
            )
    if open_:
        import webbrowser

        webbrowser.open(index.resolve().as_uri())


@app.command()
@cli_errors
def serve(
    out: OutDir = Path("reports"),
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 = any free port)")] = 8000,
    verbose: Verbose = False,
) -> None:
    """Serve the reports folder on http://127.0.0.1:PORT/ (Ctrl-C to stop)."""
    from ..report.server import serve as serve_folder

    _check_dirs(out=out)
    if not Path(out).is_dir():
        raise QuantlabError(f"--out {out}: no such folder; run `quantlab run` or `quantlab report` first")

    serve_folder(out, port, announce=lambda line: console.print(line, markup=False, highlight=False))


@app.command()
@cli_errors
def data(
    data_dir: DataDir = None,
    export: Annotated[str | None, typer.Option(help="Write this demo's test set as an .npz")] = None,
    export_to: Annotated[Path | None, typer.Option(help="With --export: the .npz file to write")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON")] = False,
    verbose: Verbose = False,
) -> None:
    """List the data files each demo needs, where they were found, and whether checksums match.

    With `--export DEMO --export-to FILE.npz`: write that demo's test set (inputs `x`, labels `y`),
    e.g. to try `quantlab analyze` on a trained demo model with real data."""
    if export:
        from ..demos.datasets.export import export_test_set

        if export_to is None:
            raise QuantlabError("--export needs --export-to FILE.npz", exit_code=2)
        done = export_test_set(check_demo_name(export), data_dir, export_to)
        console.print(f"wrote {done['file']}: x {done['x']}, y {done['y']}")
        return
    from ..demos.datasets.catalog import data_status

    _check_dirs(data_dir=data_dir)
    rows = data_status(data_dir)
    if as_json:
        _print_json(rows)
    else:
        from rich.table import Table

        table = Table(title="quantlab data files")
        for col in ("data set", "file", "found in", "path", "checksum"):
            table.add_column(col)
        for r in rows:
            table.add_row(
                r["dataset"],
                r["file"],
                r["found_in"] or "[red]missing[/red]",
                r["path"] or "–",
                {"ok": "[green]ok[/green]", None: "–"}.get(r["checksum"], f"[red]{r['checksum']}[/red]"),
            )
        table_console().print(table)
    if any(r["checksum"] != "ok" for r in rows):
        raise typer.Exit(3)


@app.command()
@cli_errors
def bench(
    backend: Backend = "wasm",
    data_dir: DataDir = None,
    models_dir: ModelsDir = Path("models"),
    limit: Annotated[int | None, typer.Option(help="Test images (default and 0: all 10,000)")] = None,
    analyze_h5: Annotated[
        bool, typer.Option("--analyze", help="Time `quantlab analyze` on the MNIST .h5 + test .npz")
    ] = False,
    workers: Annotated[
        str | None,
        typer.Option(
            "--workers",
            help="Comma-separated worker counts, e.g. 1,2: time the four-variant evaluation and a tune "
            "sweep at each, with the speed-up",
            show_default=False,
        ),
    ] = None,
    verbose: Verbose = False,
) -> None:
    """Benchmark MNIST evaluation in tfjs: Node start, load, transfer, predict vs Keras.

    With `--analyze`: `quantlab analyze` on the trained MNIST .h5 with its 10,000 test images as
    an .npz, split into detect, convert, runtime start, load, transfer, predict and metrics."""
    check_backend(backend)
    _check_dirs(models_dir=models_dir, data_dir=data_dir)
    if analyze_h5:
        from ..demos.bench import bench_analyze

        bench_analyze(backend, data_dir, models_dir)
        return
    if workers is not None:
        from ..analysis.pool import parse_worker_list
        from ..demos.bench import bench_workers

        counts = parse_worker_list(workers)
        limit = check_limit(limit)
        _check_dirs(models_dir=models_dir, data_dir=data_dir)
        bench_workers(backend, data_dir, models_dir, counts, limit)
        return
    from ..demos.bench import bench_mnist

    limit = check_limit(limit)
    _check_dirs(models_dir=models_dir, data_dir=data_dir)
    bench_mnist(backend, data_dir, models_dir, limit)


@app.command()
@cli_errors
def parity(
    model: Annotated[
        str,
        typer.Argument(
            help=f"A demo ({', '.join(ALL_DEMOS)}), or your model: a tfjs layers or graph model (folder or "
            "model.json), a Keras .h5 or .keras file, or a SavedModel folder",
            show_default=False,
        ),
    ],
    variant: Annotated[list[str] | None, typer.Option(help="Variants (repeatable; default all)")] = None,
    runtime: Annotated[
        list[str] | None,
        typer.Option("--runtime", "-r", help="Runtimes (repeatable; default all, unavailable ones reported)"),
    ] = None,
    atol: Annotated[float, typer.Option(help="Absolute tolerance, >= 0 (tfjs e2e tests use 0.005)")] = 0.005,
    rtol: Annotated[
        float, typer.Option(help="Relative tolerance, >= 0; an element fails only past both")
    ] = 0.005,
    limit: Annotated[
        int | None,
        typer.Option(
            help="Examples to compare (demos: default 1000, mobilenetv2 100; your model: default all); "
            "0 = all"
        ),
    ] = None,
    data_dir: DataDir = None,
    inputs: InputsOpt = None,
    labels_key: LabelsKey = "y",
    image_size: ImageSize = None,
    scale: Scale = "0,1",
    input_range: InputRange = None,
    samples: Samples = SYNTHETIC_SAMPLES,
    input_shape: InputShape = None,
    seed: Seed = SYNTHETIC_SEED,
    output_format: OutputFormat = None,
    format_: FormatOverride = None,
    name: ModelName = None,
    out: OutDir = Path("reports"),
    models_dir: ModelsDir = Path("models"),
    timeout: Timeout = 600.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the parity record as JSON")] = False,
    workers: Workers = None,
    executor: Executor = "local",
    ray_address: RayAddress = None,
    verbose: Verbose = False,
) -> None:
    """Compare a reference with tfjs in Node (wasm, cpu, tfjs-node) and in Chromium (cpu, wasm, webgl).

    The reference: Keras for the demos and for Keras files, TensorFlow itself for SavedModels,
    and for a bare tfjs model its own files in tfjs node-cpu (the record and the report say which).
    Separates the runtime's difference (tfjs V vs the reference on V, same dequantized weights) from
    the quantization's (the reference on V vs the original float32 model), compares every output,
    names the first diverging layer of a failing pair (layers models), and exits 6 when a pair is
    out of tolerance. Your model's variants are `MODELS/NAME/VARIANT/` as `quantlab analyze`
    writes them (converted when missing); its inputs take the same options as `analyze`.
    Examples: `quantlab parity mnist --limit 1000 -r node-wasm -r browser-webgl`;
    `quantlab parity my_model.h5 --inputs test.npz -r node-wasm -r browser-cpu`
    """
    from ..convert.converter import VARIANTS, dtype_map_for
    from ..demos.registry import DEMOS
    from ..runtimes import RUNTIMES

    runtimes = runtime or list(RUNTIMES)
    for r in runtimes:
        if r not in RUNTIMES:
            raise QuantlabError(f"unknown runtime {r!r}; valid: {', '.join(RUNTIMES)}", exit_code=2)
    check_non_negative(atol, "--atol")
    check_non_negative(rtol, "--rtol")
    check_seed(seed)
    if limit is not None:
        check_limit(limit)  # parity_command reads 0 as all, None as its default
    check_positive(timeout, "--timeout")
    _pool_options(workers, executor, ray_address)
    _check_dirs(out=out, models_dir=models_dir, data_dir=data_dir)
    pool_opts = {"workers": workers, "executor": executor, "ray_address": ray_address}
    if model in DEMOS:
        from ..demos.parity_cli import parity_command

        variants = variant or list(VARIANTS)
        for v in variants:
            dtype_map_for(v)
        with _locked(Path(models_dir) / model, Path(out) / model):
            record = parity_command(
                model,
                variants,
                runtimes,
                atol,
                rtol,
                limit,
                data_dir,
                out,
                models_dir,
                timeout,
                show_table=not as_json,
                **pool_opts,
            )
    else:
        record = _parity_model(
            Path(model),
            variant,
            runtimes,
            atol,
            rtol,
            input_options(
                inputs, labels_key, image_size, scale, input_range, samples, input_shape, seed, limit or None
            ),
            output_format,
            format_,
            name,
            out,
            models_dir,
            timeout,
            show_table=not as_json,
            pool_opts=pool_opts,
        )
    if as_json:
        _print_json(record)
    if not record["passed"]:
        raise typer.Exit(6)


def _parity_model(
    model: Path, variants, runtimes, atol, rtol, input_opts, output_format, format_, name, out,
    models_dir, timeout, show_table, pool_opts=None,
) -> dict:  # fmt: skip
    """`quantlab parity MODEL` for a path: detect, (re)use or convert the variants, compare."""
    from .. import workspace
    from ..analysis.parity_model import ParityModelOptions, parity_model
    from ..convert.converter import VARIANTS
    from ..demos.parity_cli import print_parity
    from ..report import render_reports
    from ..results import results_path
    from ..sources import detect

    if not model.exists() and len(model.parts) == 1 and not model.suffix:
        from ..errors import ArtifactError
        from ..sources import ACCEPTED

        raise ArtifactError(
            f"{model}: neither a demo ({', '.join(ALL_DEMOS)}) nor a file or folder; MODEL is {ACCEPTED}"
        )
    source = detect(model, format_)
    check_positive(timeout, "--timeout")
    for v in variants or []:
        workspace.check_name(v, "--variant", {"keras", "source", "index.html"})
    name = _model_name(model, name)
    workspace.check_writable_dir(out, "--out")
    workspace.check_writable_dir(models_dir, "--models-dir")
    log.info("%s: %s%s", model, source.format, f" ({source.detail})" if source.detail else "")
    opts = ParityModelOptions(
        name=name,
        variants=list(dict.fromkeys(variants or VARIANTS)),
        runtimes=runtimes,
        inputs=input_opts,
        output_format=output_format,
        atol=atol,
        rtol=rtol,
        timeout=timeout,
        models_dir=models_dir,
        out_dir=out,
        **(pool_opts or {}),
    )
    record = parity_model(source, opts)
    if show_table:
        print_parity(record)
    if results_path(out, name).is_file():
        render_reports(out)  # the parity section of OUT/<name>/index.html
    else:
        log.info(
            "no %s: `quantlab analyze %s` adds the metrics and the HTML page", results_path(out, name), model
        )
    return record


@app.command()
@cli_errors
def delivery(
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            help=f"Demos ({', '.join(ALL_DEMOS)}; default: every demo with variants under MODELS, the others "
            "skipped with one line each): MODELS/DEMO/VARIANT/; or one MODEL path as given to `analyze`: "
            "MODELS/NAME/VARIANT/",
            show_default=False,
        ),
    ] = None,
    profiles: Annotated[
        str | None,
        typer.Option(help="Network profiles, comma-separated: slow-4g, fast-4g, none (default: all three)"),
    ] = None,
    runs: Annotated[int, typer.Option(help="Runs per variant and profile (median and min/max)")] = 3,
    pages: Annotated[
        int,
        typer.Option(
            help="Pages (each its own headless Chromium) loading at once under the throttled profiles "
            "(short transfers, mostly CPU work, at most one per core); the unthrottled one always runs "
            "in one page, alone. 1: everything in one page, in turn"
        ),
    ] = 8,
    backend: Annotated[str, typer.Option(help="tfjs backend in the page: wasm, cpu, webgl")] = "wasm",
    name: Annotated[
        str | None, typer.Option(help="Name of a user's model (default: from the MODEL path, as analyze)")
    ] = None,
    max_model_mb: Annotated[
        float,
        typer.Option(help="A variant with more model bytes than this is reported too large, not loaded"),
    ] = 1024.0,
    out: OutDir = Path("reports"),
    models_dir: ModelsDir = Path("models"),
    timeout: Timeout = 120.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the delivery record as JSON")] = False,
    verbose: Verbose = False,
) -> None:
    """What a user's browser gets: bytes over the wire and time to the first prediction.

    For each variant: model.json and shard bytes raw, gzip (level 6) and brotli (quality 5, as servers
    compress on the fly), the number of requests; then headless Chromium loads it from a loopback server
    that answers Accept-Encoding as a CDN does, under DevTools network emulation (Slow 4G, Fast 4G,
    none), and times the model loaded and the first prediction (median and min/max of --runs), with
    tf.memory() and the JS heap. Throttled loads run --pages at once (each page its own throttle); the
    unthrottled ones in one page, alone. Writes OUT/NAME/delivery.json and adds it to results.json,
    for each demo. Examples: `quantlab delivery` (every demo with variants), `quantlab delivery mnist
    --runs 3`
    """
    from ..analysis.delivery import parse_profiles
    from ..analysis.delivery_run import (
        check_pages,
        check_runs,
        delivery_command,
        demos_with_variants,
        print_delivery,
        print_total,
    )
    from ..runtimes.browser import browser_unavailable_reason

    model = _model_path(targets)
    if model is not None:
        chosen = [(targets[0], _model_name(model, name))]
    else:
        if name is not None:
            raise QuantlabError("--name goes with one MODEL path, not with demo names", exit_code=2)
        chosen = [(t, check_demo_name(t)) for t in dict.fromkeys(targets or ALL_DEMOS)]
    names = parse_profiles(profiles)
    check_runs(runs)
    check_pages(pages)
    check_positive(timeout, "--timeout")
    check_positive(max_model_mb, "--max-model-mb")
    if backend not in ("wasm", "cpu", "webgl", "webgl-f16", "webgpu"):
        raise QuantlabError(
            f"unknown backend {backend!r}; valid: wasm, cpu, webgl, webgl-f16, webgpu", exit_code=2
        )
    _check_dirs(out=out, models_dir=models_dir)
    reason = browser_unavailable_reason(backend)
    if reason:
        from ..errors import RuntimeUnavailable

        raise RuntimeUnavailable(f"delivery needs the browser: {reason}")
    one = model is not None or len(chosen) == 1  # one target named: its missing variants are an error
    skipped: dict[str, str] = {}
    if not one:
        from ..errors import ArtifactError

        found, skipped = demos_with_variants(models_dir, [n for _, n in chosen])
        if not found:
            raise ArtifactError(
                f"{models_dir}: no demo has tfjs variants here ({', '.join(skipped)}); "
                "run `quantlab run` or `quantlab analyze` first"
            )
        for n, why in skipped.items():
            console.print(f"{n}: skipped ({why})", highlight=False, soft_wrap=True)
        chosen = [(t, n) for t, n in chosen if n in found]
    folders = [f for _, n in chosen for f in (Path(models_dir) / n, Path(out) / n)]
    with _locked(*folders):
        records = delivery_command(
            chosen, names, runs, backend, out, models_dir, timeout, max_model_mb, pages
        )
    if as_json:
        doc = (
            records[0] if one else {"records": records, "skipped": skipped, "seconds": records[0]["seconds"]}
        )
        _print_json(doc)
    else:
        for record in records:
            print_delivery(record, alone=one)
        if not one:
            print_total(records)


@app.command()
@cli_errors
def setup(
    npm: Annotated[
        bool,
        typer.Option(
            "--npm",
            help="Install the evaluator's npm packages now (`npm ci` from quantlab's package-lock.json; "
            "an installed quantlab otherwise does it on first need, into $QUANTLAB_NODE_CACHE or "
            "~/.cache/quantlab/node)",
        ),
    ] = False,
    tfjs_node: Annotated[
        bool, typer.Option("--tfjs-node", help="Build @tensorflow/tfjs-node against the pip TensorFlow")
    ] = False,
    verbose: Verbose = False,
) -> None:
    """What is ready and what is missing (Python packages, Node, the npm packages, Chromium,
    tfjs-node), one line each with the command that installs it. `--npm`: install the npm packages;
    `--tfjs-node`: build the node-tensorflow runtime without any download."""
    if npm:
        from ..runtimes import node_packages

        where = node_packages.layout()
        if where.kind == "packaged":
            done = node_packages.ensure_installed(where)
            what = "installed" if done.installed else "already installed, nothing to do"
            console.print(f"npm packages {what}: {done.entry}", highlight=False, soft_wrap=True)
        elif node_packages.npm_packages_missing():
            raise QuantlabError(
                f"{node_packages.npm_packages_missing()} (this quantlab runs from {where.source}: "
                "its npm packages are that folder's node_modules/)",
                exit_code=5,
            )
        else:
            console.print(
                f"npm packages already installed, nothing to do: {where.source / 'node_modules'}",
                highlight=False,
                soft_wrap=True,
            )
    if tfjs_node:
        from ..infra.setup_tfjs_node import setup_tfjs_node

        setup_tfjs_node()
    if npm or tfjs_node:
        return
    from ..infra.readiness import checks

    for check in checks():
        typer.echo(check.line())


@app.command()
@cli_errors
def tune(
    demo: Annotated[
        str,
        typer.Argument(
            help=f"Demo to tune ({', '.join(ALL_DEMOS)}) or your MODEL (any format analyze takes)"
        ),
    ],
    max_drop: Annotated[float, typer.Option(help="Largest acceptable metric drop from float32 (>= 0)")],
    relative: Annotated[
        bool, typer.Option(help="--max-drop is a fraction (0 to 1) of the float32 metric")
    ] = False,
    limit: Annotated[
        int | None,
        typer.Option(
            help="Stratified subset for the sweep (default 1000; mobilenetv2 200; 0 = the full set)"
        ),
    ] = None,
    sweep: Annotated[
        str,
        typer.Option(
            help="Sensitivity sweeps: a (only L uint8: what ranks the layers), b (all but L: the "
            "'gain keeping this float32' column; doubles the sweep, changes no answer when a ran), ab"
        ),
    ] = "a",
    rank_limit: Annotated[
        int | None,
        typer.Option(
            help="Examples of the search split the per-layer sweep ranks layers on, by output error "
            "(default 64 for mobilenetv2, 256 otherwise; 0 = the --limit subset)"
        ),
    ] = None,
    backend: Annotated[
        str,
        typer.Option(
            "--backend",
            help="tfjs backend in Node: wasm, cpu, tensorflow, or auto: tensorflow (tfjs-node, about twice "
            "as fast on MobileNetV2) when `quantlab setup --tfjs-node` has built it, else wasm",
        ),
    ] = "auto",
    data_dir: DataDir = None,
    out: OutDir = Path("reports"),
    models_dir: ModelsDir = Path("models"),
    timeout: Timeout = 600.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the tune record as JSON")] = False,
    holdout: Annotated[
        float,
        typer.Option(
            help="Fraction of the test examples held out to judge the answer (seeded, stratified by label); "
            "the search only sees the rest. 0: the old way, the full set judges"
        ),
    ] = 0.5,
    conservative: Annotated[
        bool,
        typer.Option(help="Require the upper end of the held-out drop's 95% interval to be within budget"),
    ] = False,
    inputs: ModelInputs = None,
    labels_key: ModelLabelsKey = "y",
    image_size: ModelImageSize = None,
    scale: ModelScale = "0,1",
    input_range: ModelInputRange = None,
    input_shape: ModelInputShape = None,
    samples: Annotated[int, typer.Option(help="MODEL only, no --inputs: synthetic examples")] = 256,
    seed: Annotated[int, typer.Option(help="MODEL only: seed of synthetic inputs")] = SYNTHETIC_SEED,
    format_: FormatOverride = None,
    output: Annotated[
        list[str] | None,
        typer.Option(
            "--output",
            help="MODEL only: an output the budget applies to (repeatable; default: every output, "
            "the worst one decides)",
        ),
    ] = None,
    equalized: Annotated[
        bool,
        typer.Option(
            help="mobilenetv2-graph: search from its `equalized` variant (float32 weights after "
            "cross-layer equalization, `quantlab equalize`) instead of float32; the answer goes to "
            "MODELS/DEMO/tuned-equalized/"
        ),
    ] = False,
    workers: Workers = None,
    executor: Executor = "local",
    ray_address: RayAddress = None,
    verbose: Verbose = False,
) -> None:
    """Find the smallest mixed-precision artifact whose metric stays within a budget of float32.

    Splits the test examples into a search split and a held-out split (--holdout). Measures per-layer
    sensitivity in tfjs on a subset of the search split, promotes layers from uint8 to 16 bits in order of
    damage per byte until the budget is met, lets the held-out split judge the answer (moving up or down
    from the search's pick; reported with its interval), and prints the `tensorflowjs_converter` command that
    reproduces it. Exits 7 when nothing meets the budget. Example: `quantlab tune fashion-mnist --max-drop
    0.002`
    """
    from ..demos.registry import is_image_demo
    from ..demos.tune_cli import tune_command

    model = _model_path([demo])
    if model is None:
        check_demo_name(demo)
        _model_only(
            format_=format_, inputs=inputs, image_size=image_size, input_range=input_range,
            input_shape=input_shape, output=output,
        )  # fmt: skip
    else:
        from ..sources import check_format

        check_format(format_)
    extras = getattr(get_demo(demo) if model is None else None, "extra_variants", ())
    if equalized and "equalized" not in extras:
        raise QuantlabError(
            f"--equalized: only for demos with an equalized variant (mobilenetv2-graph); for {demo}, run "
            "`quantlab equalize MODEL --out DIR` and tune DIR",
            exit_code=2,
        )
    if sweep and set(sweep) - {"a", "b"}:
        raise QuantlabError(f"--sweep {sweep!r}: use a, b or ab", exit_code=2)
    check_non_negative(max_drop, "--max-drop", at_most=1.0 if relative else None, why=" with --relative")
    if limit is None:
        limit = 200 if is_image_demo(demo) else 1000
    else:
        limit = check_limit(limit, zero_means="the full set")
    if rank_limit is None:
        rank_limit = 64 if is_image_demo(demo) else 256
    else:
        rank_limit = check_limit(rank_limit)  # 0: rank on the --limit subset
    _pool_options(workers, executor, ray_address)
    check_positive(timeout, "--timeout")
    _check_dirs(out=out, models_dir=models_dir, data_dir=data_dir)
    import math

    if not (isinstance(holdout, float | int) and math.isfinite(holdout) and 0 <= holdout < 1):
        raise QuantlabError(f"--holdout {holdout}: a fraction in [0, 1)", exit_code=2)
    check_backend(backend, also=("auto",))
    check_seed(seed)
    check_positive(samples, "--samples")
    if backend == "auto":
        from ..infra.setup_tfjs_node import tfjs_node_unavailable_reason

        why_not = tfjs_node_unavailable_reason()
        backend = "wasm" if why_not else "tensorflow"
        log.info("tfjs backend: %s%s", backend, f" ({why_not})" if why_not else " (tfjs-node)")
    if model is not None:
        from .. import workspace
        from ..analysis.tune_model import tune_model_command

        workspace.model_name(model, set(ALL_DEMOS) | workspace.OUT_FILES)

        opts = input_options(
            inputs, labels_key, image_size, scale, input_range, samples, input_shape, seed, limit=None
        )
        record = tune_model_command(
            model,
            opts,
            max_drop, relative, limit, sweep, backend, holdout, conservative, out, models_dir, timeout,
            show=not as_json, format_override=format_, outputs=output,
        )  # fmt: skip
        if as_json:
            _print_json(record)
        if not record["verified_within_budget"]:
            raise typer.Exit(7)
        return
    with _locked(Path(models_dir) / demo, Path(out) / demo):
        record = tune_command(
            demo,
            max_drop,
            relative,
            limit,
            sweep,
            backend,
            data_dir,
            out,
            models_dir,
            timeout,
            show=not as_json,
            holdout=holdout,
            conservative=conservative,
            rank_limit=rank_limit,
            workers=workers,
            executor=executor,
            ray_address=ray_address,
            base="equalized" if equalized else "float32",
        )
    if as_json:
        _print_json(record)
    if not record["verified_within_budget"]:
        raise typer.Exit(7)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

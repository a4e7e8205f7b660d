"""`quantlab tune DEMO|MODEL --max-drop X`: the smallest mixed-precision artifact within a budget."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from ...demos.registry import ALL_DEMOS, check_demo_name
from ...errors import QuantlabError
from ...infra.progress import log
from ...input_spec import SYNTHETIC_SEED
from ..checks import (
    check_backend,
    check_limit,
    check_non_negative,
    check_positive,
    check_seed,
)
from ..guard import cli_errors
from ..options import (
    DataDir,
    Executor,
    FormatOverride,
    ModelImageSize,
    ModelInputRange,
    ModelInputs,
    ModelInputShape,
    ModelLabelsKey,
    ModelScale,
    ModelsDir,
    OutDir,
    RayAddress,
    Timeout,
    Verbose,
    Workers,
    check_dirs,
    check_pool_options,
    input_options,
)
from ..tables import print_json
from ..targets import model_only, model_path, resolve_subject


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
    model = model_path([demo])
    if model is None:
        check_demo_name(demo)
        model_only(
            format_=format_, inputs=inputs, image_size=image_size, input_range=input_range,
            input_shape=input_shape, output=output,
        )  # fmt: skip
    else:
        from ...sources import check_format

        check_format(format_)
    if sweep and set(sweep) - {"a", "b"}:
        raise QuantlabError(f"--sweep {sweep!r}: use a, b or ab", exit_code=2)
    check_non_negative(max_drop, "--max-drop", at_most=1.0 if relative else None, why=" with --relative")
    limit_given, rank_given = limit is not None, rank_limit is not None  # else the subject's default
    if limit_given:
        limit = check_limit(limit, zero_means="the full set")  # 0: None, the full set
    if rank_given:
        rank_limit = check_limit(rank_limit)  # 0: None, rank on the --limit subset
    check_pool_options(workers, executor, ray_address)
    check_positive(timeout, "--timeout")
    check_dirs(out=out, models_dir=models_dir, data_dir=data_dir)

    if not (isinstance(holdout, float | int) and math.isfinite(holdout) and 0 <= holdout < 1):
        raise QuantlabError(f"--holdout {holdout}: a fraction in [0, 1)", exit_code=2)
    check_backend(backend, also=("auto",))
    check_seed(seed)
    check_positive(samples, "--samples")
    if backend == "auto":
        from ...infra.setup_tfjs_node import tfjs_node_unavailable_reason

        why_not = tfjs_node_unavailable_reason()
        backend = "wasm" if why_not else "tensorflow"
        log.info("tfjs backend: %s%s", backend, f" ({why_not})" if why_not else " (tfjs-node)")
    from ...analysis.tune_run import TuneOptions, measure_tune
    from ..tables.tune import print_tune_result

    given = None
    if model is not None:
        given = input_options(
            inputs, labels_key, image_size, scale, input_range, samples, input_shape, seed, limit=None
        )
    subject = resolve_subject(
        demo, models_dir, out, data_dir=data_dir, format_=format_, inputs=given, takes_name=False
    )
    if equalized and "equalized" not in subject.extra_variants:
        raise QuantlabError(
            f"--equalized: only for demos with an equalized variant (mobilenetv2-graph); for {demo}, run "
            "`quantlab equalize MODEL --out DIR` and tune DIR",
            exit_code=2,
        )
    default_limit, default_rank_limit = subject.tune_limits()
    limit = limit if limit_given else default_limit
    rank_limit = rank_limit if rank_given else default_rank_limit
    opts = TuneOptions(
        max_drop=max_drop,
        relative=relative,
        limit=limit,
        sweeps=sweep,
        backend=backend,
        timeout=timeout,
        holdout=holdout,
        conservative=conservative,
        rank_limit=rank_limit,
        workers=workers,
        executor=executor,
        ray_address=ray_address,
        base="equalized" if equalized else "float32",
        outputs=output,
    )
    record = measure_tune(subject, opts)
    print_tune_result(record, max_drop, as_json)
    if as_json:
        print_json(record)
    if not record["verified_within_budget"]:
        raise typer.Exit(7)

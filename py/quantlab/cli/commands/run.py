"""`quantlab run` and `quantlab train`: the demos, trained (or built) and measured."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from ...demos.registry import ALL_DEMOS, check_demo_name, get_demo
from ...workspace import locked_folders, model_root
from ..checks import (
    check_backend,
    check_choice,
    check_demo_litert,
    check_limit,
    check_path,
    check_positive,
    check_seed,
)
from ..guard import cli_errors
from ..options import (
    Backend,
    DataDir,
    DemoArg,
    Executor,
    LiteRT,
    ModelsDir,
    OutDir,
    Quick,
    RayAddress,
    Timeout,
    Verbose,
    Workers,
    check_dirs,
    check_pool_options,
)
from ..tables import print_summary, print_workers_line, warn_nonfinite
from ..targets import demos_named, preprocessings


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
    litert: LiteRT = False,
    workers: Workers = None,
    executor: Executor = "local",
    ray_address: RayAddress = None,
    verbose: Verbose = False,
) -> None:
    """Train, convert, quantize and evaluate demos in tfjs, then write the HTML report.

    Examples: `quantlab run --quick` (smoke run of every demo, minutes);
    `quantlab run mnist`; `quantlab run mnist --litert` (tfjs or LiteRT.js, side by side);
    `quantlab run mobilenetv2 --limit 200 --preprocessing seed`
    """
    from ...analysis.executors import make_pool
    from ...demos.registry import DemoOptions, is_image_demo
    from ...report import render_reports

    # --litert alone: the trained demos (the MobileNetV2 ones have nothing to calibrate on)
    default = [n for n in ALL_DEMOS if not (litert and is_image_demo(n))]
    names = [check_demo_name(n) for n in (demos or default)]
    check_pool_options(workers, executor, ray_address)
    check_seed(seed)
    check_backend(backend)
    check_choice(preprocessing, preprocessings(), "--preprocessing")
    check_positive(timeout, "--timeout")
    check_positive(alpha, "--alpha")
    check_positive(image_size, "--image-size")
    all_limit = limit == 0
    limit = check_limit(limit)
    check_dirs(out=out, models_dir=models_dir, data_dir=data_dir)
    if weights is not None:
        check_path(weights, "--weights")
    lite = check_demo_litert(names, timeout) if litert else None
    opts = DemoOptions(
        data_dir, quick, seed, 0 if all_limit else limit, weights, preprocessing, alpha, image_size, lite,
        timeout,
    )  # fmt: skip
    all_results = []
    folders = [Path(d) / n for n in names for d in (models_dir, out)]
    pool = make_pool(f"node-{backend}", workers, timeout, executor, ray_address)
    with locked_folders(*folders), pool as runtime:
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
    print_summary(all_results, as_json)
    if not as_json:
        print_workers_line(pool)


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
    from ...demos.registry import DemoOptions

    chosen = demos_named(demos)
    check_seed(seed)
    check_positive(alpha, "--alpha")
    check_positive(image_size, "--image-size")
    check_dirs(models_dir=models_dir, data_dir=data_dir)
    if weights is not None:
        check_path(weights, "--weights")
    opts = DemoOptions(data_dir, quick, seed, weights=weights, alpha=alpha, image_size=image_size)
    with locked_folders(*[model_root(models_dir, demo.name) for demo in chosen]):
        for demo in chosen:
            demo.prepare(models_dir, opts)

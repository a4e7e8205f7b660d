"""`quantlab bench`: timings of the MNIST evaluation, analyze and worker counts; with a MODEL, fair
per-example latency of its tfjs and LiteRT variants and TensorFlow, one thread and several."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..checks import (
    check_backend,
    check_limit,
    check_positive,
)
from ..guard import cli_errors
from ..options import (
    Backend,
    DataDir,
    ModelImageSize,
    ModelInputs,
    ModelName,
    ModelScale,
    ModelsDir,
    Timeout,
    Verbose,
    check_dirs,
)


@cli_errors
def bench(
    model: Annotated[
        Path | None,
        typer.Argument(
            help="A model `quantlab analyze` ran on (with --litert for the LiteRT variants): time every "
            "variant under MODELS/NAME/ and TensorFlow on the model itself",
            show_default=False,
        ),
    ] = None,
    inputs: ModelInputs = None,
    image_size: ModelImageSize = None,
    scale: ModelScale = "0,1",
    name: ModelName = None,
    threads: Annotated[
        str | None,
        typer.Option(
            help="MODEL: thread counts, comma-separated (default: 1 and every core)", show_default=False
        ),
    ] = None,
    examples: Annotated[int, typer.Option(help="MODEL: examples timed, one at a time")] = 32,
    rounds: Annotated[int, typer.Option(help="MODEL: passes over the examples (median, min, max)")] = 5,
    timeout: Timeout = 600.0,
    as_json: Annotated[bool, typer.Option("--json", help="MODEL: print the figures as JSON")] = False,
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
    an .npz, split into detect, convert, runtime start, load, transfer, predict and metrics.

    With a MODEL: fair speed. Every variant `quantlab analyze MODEL [--litert]` wrote, one example at
    a time, in tfjs wasm and LiteRT.js wasm in headless Chromium, with each thread count (pages
    served cross-origin isolated, as wasm threads need; the count each runtime really used is
    shown), and TensorFlow on MODEL itself with the same counts, in the same run. Example:
    `quantlab bench my_model.h5 --inputs test.npz --threads 1,2`; `quantlab bench mobilenet.h5 --inputs
    images/ --scale -1,1`"""
    if model is not None:
        from ...input_spec import SYNTHETIC_SAMPLES, SYNTHETIC_SEED
        from ..options import input_options

        opts = input_options(
            inputs, "y", image_size, scale, None, SYNTHETIC_SAMPLES, None, SYNTHETIC_SEED, None
        )
        _bench_model(model, opts, name, threads, examples, rounds, timeout, models_dir, as_json)
        return
    check_backend(backend)
    check_dirs(models_dir=models_dir, data_dir=data_dir)
    if analyze_h5:
        from ...demos.bench import bench_analyze

        bench_analyze(backend, data_dir, models_dir)
        return
    if workers is not None:
        from ...analysis.jobs import parse_worker_list
        from ...demos.bench import bench_workers

        counts = parse_worker_list(workers)
        limit = check_limit(limit)
        check_dirs(models_dir=models_dir, data_dir=data_dir)
        bench_workers(backend, data_dir, models_dir, counts, limit)
        return
    from ...demos.bench import bench_mnist

    limit = check_limit(limit)
    check_dirs(models_dir=models_dir, data_dir=data_dir)
    bench_mnist(backend, data_dir, models_dir, limit)


def _bench_model(model, input_opts, name, threads, examples, rounds, timeout, models_dir, as_json) -> None:
    from ...analysis.speed import measure_speed, parse_threads, speed_record
    from ..tables import print_json
    from ..tables.speed import print_speed
    from ..targets import resolve_subject

    counts = parse_threads(threads)
    check_positive(examples, "--examples")
    check_positive(rounds, "--rounds")
    check_positive(timeout, "--timeout")
    check_dirs(models_dir=models_dir)
    subject = resolve_subject(str(model), models_dir, None, name=name)
    if subject.kind != "model":
        from ...errors import QuantlabError

        raise QuantlabError(
            f"{model}: a demo; `quantlab bench` without MODEL times MNIST (MODEL: a model `analyze` ran on)",
            exit_code=2,
        )
    subject.check_made_from()  # the variants of this model, not of another with the same name
    rows, info = measure_speed(subject.source, subject.root, input_opts, counts, examples, rounds, timeout)
    record = speed_record(rows, info)
    print_json(record) if as_json else print_speed(record)

"""`quantlab bench`: timings of the MNIST evaluation, analyze and worker counts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..checks import (
    check_backend,
    check_limit,
)
from ..guard import cli_errors
from ..options import (
    Backend,
    DataDir,
    ModelsDir,
    Verbose,
    check_dirs,
)


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

"""Benchmark figures for MNIST evaluation in tfjs (printed, never asserted)."""

from __future__ import annotations

import time
from pathlib import Path

from rich.table import Table

from .convert import VARIANTS
from .demos import get_demo
from .pipeline import variant_dir
from .progress import table_console
from .runtimes.keras import KerasRuntime
from .runtimes.node import TfjsNodeRuntime


def bench_mnist(
    backend: str, data_dir: Path | None, models_dir: Path, limit: int | None = None
) -> list[dict]:
    """Per variant: Node start, model load, data transfer and predict time; Keras beside it."""
    from .pipeline import keras_dir
    from .train import load_trained

    demo = get_demo("mnist")
    data = demo.load(data_dir)
    x = data.x_test[:limit] if limit else data.x_test
    keras_model, _ = load_trained(keras_dir(models_dir, demo))
    keras_rt = KerasRuntime()
    kmodel = KerasRuntime.from_keras_model(keras_model)
    keras_rt.predict(kmodel, x[:256])  # warm-up (graph tracing)
    _, kt = keras_rt.predict(kmodel, x)
    keras_ms = kt.predict_ms / len(x)
    rows = []
    for variant in VARIANTS:
        t0 = time.perf_counter()
        runtime = TfjsNodeRuntime(backend)  # fresh process: start-up is part of the figure
        try:
            start_ms = runtime.evaluator.start_ms
            loaded = runtime.load(variant_dir(models_dir, demo, variant))
            _, t = runtime.predict(loaded, x)
        finally:
            runtime.close()
        total_ms = (time.perf_counter() - t0) * 1000
        rows.append(
            {
                "variant": variant,
                "start_ms": start_ms,
                "load_ms": loaded.load_ms,
                "transfer_ms": t.transfer_ms,
                "predict_ms": t.predict_ms,
                "total_ms": total_ms,
                "tfjs_ms_per_image": t.predict_ms / len(x),
                "keras_ms_per_image": keras_ms,
                "overhead_ratio": (t.transfer_ms + loaded.load_ms) / t.predict_ms,
                "slowdown_vs_keras": (t.predict_ms / len(x)) / keras_ms,
            }
        )
    table = Table(title=f"MNIST evaluation, {len(x)} images, tfjs {backend} vs Keras")
    cols = [
        "variant",
        "start_ms",
        "load_ms",
        "transfer_ms",
        "predict_ms",
        "total_ms",
        "tfjs_ms_per_image",
        "keras_ms_per_image",
        "overhead_ratio",
        "slowdown_vs_keras",
    ]
    for c in cols:
        table.add_column(c, justify="right")
    for r in rows:
        table.add_row(r["variant"], *[f"{r[c]:.3f}" if r[c] < 10 else f"{r[c]:,.0f}" for c in cols[1:]])
    table_console().print(table)
    table_console().print("goals: overhead_ratio (transfer + load) / predict < 0.10; slowdown_vs_keras < 20")
    return rows

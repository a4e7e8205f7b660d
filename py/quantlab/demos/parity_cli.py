"""`quantlab parity`: gather inputs and references for a demo, run parity, print and save it
(a user's model: parity_model.py)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from rich.table import Table

from ..analysis.parity import run_parity, save_parity
from ..errors import ArtifactError
from ..infra.progress import log, table_console
from ..results import RESULTS_FILE, results_or_none
from .registry import get_demo, is_image_demo


def _inputs(demo: str, limit: int | None, data_dir: Path | None, tmp: Path) -> np.ndarray:
    if is_image_demo(demo):
        from .datasets.imagenet import DecodedImages, find_image_folder, list_images

        samples, _ = list_images(find_image_folder(data_dir))
        images = DecodedImages(samples, 224, tmp / "decoded.npy", 100 if limit is None else (limit or None))
        return np.concatenate(list(images.batches(32, "keras")))
    data = get_demo(demo).load(data_dir)
    n = 1000 if limit is None else (limit or len(data.x_test))
    return data.x_test[:n]


def _keras_original(models_dir: Path, demo: str):
    from .train import KERAS_FILE, load_trained

    folder = Path(models_dir) / demo / "keras"
    if not (folder / KERAS_FILE).is_file():
        log.warning("%s: no trained Keras model; float32 is compared with its own artifact", folder)
        return None
    return load_trained(folder)[0]


def parity_command(
    demo, variants, runtimes, atol, rtol, limit, data_dir, out, models_dir, timeout, show_table=True,
    workers=None, executor="local", ray_address=None,
) -> dict:  # fmt: skip
    variant_dirs = {v: Path(models_dir) / demo / v for v in variants}
    for folder in variant_dirs.values():
        if not (folder / "model.json").is_file():
            raise ArtifactError(f"{folder / 'model.json'}: missing; run `quantlab run {demo}` first")
    results_or_none(Path(out) / demo / RESULTS_FILE)  # one it cannot merge into is named before the work
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="quantlab-parity-") as tmp:
        x = _inputs(demo, limit, data_dir, Path(tmp))
    record = run_parity(
        variant_dirs, _keras_original(models_dir, demo), x, runtimes, atol, rtol, timeout,
        workers=workers, executor=executor, ray_address=ray_address,
    )  # fmt: skip
    record["seconds"] = round(time.perf_counter() - t0, 1)
    record["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if show_table:
        print_parity(record)
    save_parity(out, demo, record)
    return record


def _opt(stats: dict, key: str, fmt: str) -> str:
    return fmt.format(stats[key]) if key in stats else "–"


def print_parity(record: dict) -> None:
    table = Table(
        title=f"parity on {record['n_examples']} examples against {record.get('reference', 'keras')} "
        f"(atol {record['atol']}, rtol {record['rtol']})"
    )
    cols = ["variant", "kind", "actual", "reference", "max abs", "mean abs", "rel L2", "SQNR dB", "cos min",
            "top-1 agree", "result", "first bad layer"]  # fmt: skip
    for c in cols:
        table.add_column(c)
    for p in record["pairs"]:
        s = p["stats"]
        verdict = {True: "[green]pass[/green]", False: "[red]FAIL[/red]", None: "info"}[p["passed"]]
        table.add_row(
            p["variant"], p["kind"], p["actual"], p["reference"], f"{s['max_abs']:.2e}",
            f"{s['mean_abs']:.2e}", f"{s['rel_l2']:.2e}", f"{s['sqnr_db']:.1f}",
            _opt(s, "cosine_min", "{:.6f}"),
            _opt(s, "top1_agreement", "{:.4f}"), verdict,
            (p["first_bad_layer"] or {}).get("layer", ""),
        )  # fmt: skip
    console = table_console()
    console.print(table)
    if record.get("reference_detail"):
        console.print(f"reference: {record['reference_detail']}", highlight=False)
    for p in record["pairs"]:  # multi-output models: the outputs that failed
        for out, s in (p.get("outputs") or {}).items():
            if s.get("passed") is False and p["passed"] is False:
                console.print(
                    f"{p['actual']} vs {p['reference']}: output {out} fails ({s['n_failing']} elements, "
                    f"max abs {s['max_abs']:.2e})",
                    highlight=False,
                )
    if record.get("localisation"):
        console.print(record["localisation"], highlight=False)
    for name, info in record["runtimes"].items():
        times = [
            p["timings"]
            for p in record["pairs"]
            if p["kind"] == "runtime" and p["actual"].startswith(name + " ") and p.get("timings")
        ]
        load = sum(t["load_ms"] for t in times) / max(1, len(times))
        pred = sum(t["predict_ms_per_example"] for t in times) / max(1, len(times))
        console.print(
            f"{name}: start {info['start_ms']:.0f} ms, mean load {load:.0f} ms, "
            f"predict {pred:.3f} ms/example, {info.get('workers', 1)} worker(s)"
        )
    for name, reason in record["unavailable"].items():
        console.print(f"[yellow]{name} unavailable[/yellow]: {reason}")

"""`quantlab bench MODEL`: fair per-example latency of every variant `quantlab analyze` wrote under
MODELS/NAME/ (tfjs in tfjs-backend-wasm, LiteRT in LiteRT.js wasm), each with one thread and with
several (the page served cross-origin isolated, as wasm threads need), and TensorFlow on the
original model with the same thread counts, in the same run on the same machine.

One example at a time (what a page classifying one image does): each figure is the median of
`rounds` passes over the same examples, with the fastest and slowest pass beside it. Threads: tfjs
reports the pool it really made (it caps it at half the cores; a page that is not cross-origin
isolated gets one thread whatever it asks); LiteRT.js the count given to XNNPack, capped by its
build's pool; TensorFlow the count its pools were set to."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..convert.litert import litert_folders
from ..errors import ArtifactError, EvaluatorError, QuantlabError
from ..infra.progress import log
from ..input_spec import InputOptions
from ..sources import TF_FORMATS
from .jobs import parse_counts, usable_cores


@dataclass
class SpeedRow:
    runtime: str  # tensorflow, browser-wasm, browser-litert-wasm
    variant: str
    threads_asked: int
    threads_used: int | None
    ms_per_example: float  # median over rounds
    ms_min: float
    ms_max: float
    examples: int
    rounds: int


def parse_threads(text: str | None) -> list[int]:
    """--threads 1,2 -> [1, 2]; default: one thread and every core."""
    if text is None:
        return sorted({1, usable_cores()})
    return sorted(set(parse_counts(text, "--threads")))


def speed_variants(root: Path) -> dict[str, tuple[str, Path]]:
    """{variant: (kind, folder)}: the tfjs variants (model.json) and LiteRT variants (model.tflite)."""
    from .delivery_run import variant_folders

    found: dict[str, tuple[str, Path]] = {}
    try:
        found = {v: ("tfjs", p) for v, p in variant_folders(root).items()}
    except ArtifactError:
        pass
    if not found:  # the tfjs float32 is what the inputs are read against; analyze always writes it
        raise ArtifactError(f"{root}: no tfjs variants here; run `quantlab analyze MODEL [--litert]` first")
    found |= {v: ("litert", p) for v, p in litert_folders(root).items()}
    return found


def _summary(runtime, variant, asked, used, per_round: list[float], n: int) -> SpeedRow:
    return SpeedRow(runtime, variant, asked, used, round(statistics.median(per_round), 3),
                    round(min(per_round), 3), round(max(per_round), 3), n, len(per_round))  # fmt: skip


def _page_info(rt) -> dict:
    return {**rt.describe(), "threads": rt.info.get("threads"),
            "cross_origin_isolated": rt.info.get("cross_origin_isolated")}  # fmt: skip


def _time_page(rt, folder: Path, x: dict, rounds: int) -> list[float]:
    loaded = rt.load(folder)
    try:
        first = {k: v[:1] for k, v in x.items()}
        rt.predict(loaded, first, batch_size=1)  # warm-up: weight packing, first-run allocations
        per_round = []
        for _ in range(rounds):
            _, t = rt.predict(loaded, x, batch_size=1)
            per_round.append(t.predict_ms / t.examples)
        return per_round
    finally:
        rt.unload(loaded)


def time_tensorflow(source, x: dict, threads: int, rounds: int, timeout: float) -> dict:
    """TensorFlow in a child process (its thread pools are fixed once an op ran): speed_tf's
    {ms_per_example: per round, threads, tensorflow_version}."""
    with tempfile.TemporaryDirectory(prefix="quantlab-speed-") as tmp:
        np.savez(Path(tmp) / "x.npz", **x)
        args = {"model": str(source.path), "format": source.format, "inputs": str(Path(tmp) / "x.npz"),
                "threads": threads, "rounds": rounds}  # fmt: skip
        (Path(tmp) / "args.json").write_text(json.dumps(args))
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": os.pathsep.join(sys.path)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "quantlab.analysis.speed_tf", str(Path(tmp) / "args.json")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise EvaluatorError(
                f"TensorFlow timing of {source.path} ran past {timeout:g} s (--timeout); it was stopped"
            ) from None
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if proc.returncode != 0:
            last = (err.strip().splitlines() or ["(no output)"])[-1]
            raise QuantlabError(f"TensorFlow timing of {source.path} failed: {last}", exit_code=4)
        return json.loads(out.strip().splitlines()[-1])


def measure_speed(
    source, root: Path, input_opts: InputOptions, threads: list[int], examples: int, rounds: int,
    timeout: float,
) -> tuple[list[SpeedRow], dict]:  # fmt: skip
    from ..inputs import load_inputs
    from ..runtimes.base import input_specs
    from ..runtimes.browser import BrowserRuntime
    from ..runtimes.litert import LiteRTRuntime

    variants = speed_variants(root)
    rows: list[SpeedRow] = []
    info: dict = {"cores": usable_cores(), "examples": examples, "rounds": rounds, "runtimes": {}}
    tfjs = [(v, f) for v, (kind, f) in variants.items() if kind == "tfjs"]
    litert = [(v, f) for v, (kind, f) in variants.items() if kind == "litert"]
    x: dict | None = None
    for t in threads:
        if tfjs:
            with BrowserRuntime("wasm", timeout=timeout, threads=t) as rt:
                if x is None:
                    loaded = rt.load(tfjs[0][1])
                    specs = input_specs(loaded)
                    rt.unload(loaded)
                    inputs = load_inputs(specs, input_opts)
                    n = min(examples, inputs.n)
                    x = {s.name: inputs.batch(s.name, 0, n) for s in specs}
                used = rt.info.get("threads")
                info["runtimes"][f"browser-wasm/{t}"] = _page_info(rt)
                for v, folder in tfjs:
                    log.info("timing tfjs %s, %d thread(s) asked, %s used", v, t, used)
                    rows.append(_summary("browser-wasm", v, t, used, _time_page(rt, folder, x, rounds), n))
        if litert and x is not None:
            with LiteRTRuntime("wasm", timeout=timeout, threads=t) as rt:
                used = rt.info.get("threads")
                info["runtimes"][f"browser-litert-wasm/{t}"] = _page_info(rt)
                for v, folder in litert:
                    log.info("timing LiteRT.js %s, %d thread(s) asked, %s used", v, t, used)
                    rows.append(
                        _summary("browser-litert-wasm", v, t, used, _time_page(rt, folder, x, rounds), n)
                    )
        if source.format in TF_FORMATS and x is not None:
            log.info("timing TensorFlow on %s, %d thread(s)", source.path, t)
            got = time_tensorflow(source, x, t, rounds, timeout)
            info["tensorflow_version"] = got["tensorflow_version"]
            # TensorFlow's count is the one it was set to (intra- and inter-op pools)
            rows.append(_summary("tensorflow", "original", t, got["threads"], got["ms_per_example"], n))
    if source.format not in TF_FORMATS:
        info["tensorflow"] = f"not timed: {source.format} is not a model TensorFlow runs as it is"
    return rows, info


CAPS = {
    "browser-wasm": "tfjs-backend-wasm caps its pool at half the cores, at most 8",
    "browser-litert-wasm": "LiteRT.js's threaded build offers navigator.hardwareConcurrency threads",
}


def speed_record(rows: list[SpeedRow], info: dict) -> dict:
    """The figures, and a note for each runtime that used fewer threads than it was asked for."""
    notes = []
    for runtime, why in CAPS.items():
        pairs = {(r.threads_asked, r.threads_used) for r in rows if r.runtime == runtime}
        short = sorted((a, u) for a, u in pairs if u is not None and u < a)
        if short:
            said = ", ".join(f"{a} asked, {u} used" for a, u in short)
            notes.append(f"{runtime}: {said} ({why}; {info['cores']} cores here)")
    return {**info, "rows": [asdict(r) for r in rows], "notes": notes}

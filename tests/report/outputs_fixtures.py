"""Results of a user model with two outputs (an embedding and a small output), in the per-output
shape analyze writes: row["outputs"], row["worst_output"], results["min_effect"]."""

from __future__ import annotations

EMBED, SMALL = "global_pooling/Mean", "scores/Softmax"
N = 64


def _delta(delta: float, lo: float, hi: float) -> dict:
    return {"delta": delta, "ci": [lo, hi], "n": N, "covers_zero": lo <= 0 <= hi, "p_value": None}


def _embedding(value: float, ci: list, delta: dict | None, loss: bool, **figures) -> dict:
    return {
        "kind": "embedding",
        "metric": "cosine_mean",
        "value": value,
        "score": value,
        "nonfinite": 0,
        "counted": True,
        "interval": ci,
        "delta": delta,
        "loss": loss,
        "cosine_mean": value,
        **figures,
    }


def _small(delta: dict | None) -> dict:
    return {
        "kind": "small",
        "metric": "rel_error",
        "value": 0.0,
        "score": 1.0,
        "nonfinite": 0,
        "counted": True,
        "interval": [0.0, 0.0],
        "delta": delta,
        "loss": False,
        "rel_error": 0.0,
        "max_abs": 0.0,
    }


def _row(name: str, weight_bytes: int, outputs: dict, cosine_delta: dict | None) -> dict:
    row = {
        "name": name,
        "weight_bytes": weight_bytes,
        "metrics": {"cosine_mean": outputs[EMBED]["value"]},
        "intervals": {"cosine_mean": outputs[EMBED]["interval"]},
        "outputs": outputs,
        "worst_output": EMBED,
    }
    if cosine_delta:
        row["deltas"] = {"cosine_mean": cosine_delta}
    return row


def model_results(demo: str = "embedder", min_effect: dict | None = None) -> dict:
    """float32; float16 whose embedding moved by a real but tiny -0.0001 (interval excludes zero);
    uint8 whose embedding collapsed (cosine 0.312). The small output is identical everywhere."""
    tiny = _delta(-0.0001, -0.00015, -0.00005)
    collapsed = _delta(-0.688, -0.71, -0.67)
    same = _delta(0.0, 0.0, 0.0)
    f32 = {EMBED: _embedding(1.0, [1.0, 1.0], None, False), SMALL: _small(None)}
    f16 = {
        EMBED: _embedding(0.9999, [0.99985, 0.99995], tiny, False, sqnr_db=52.3, max_abs=0.0021),
        SMALL: _small(same),
    }
    u8 = {
        EMBED: _embedding(0.312, [0.29, 0.33], collapsed, True, sqnr_db=1.2, max_abs=3.4),
        SMALL: _small(same),
    }
    r = {
        "schema": 1,
        "kind": "model",
        "demo": demo,
        "title": f"{demo} (your model)",
        "task": "fidelity",
        "primary_metric": "cosine_mean",
        "source": {"path": f"{demo}/model.json", "format": "tfjs-graph", "output_format": "graph"},
        "inputs": {"kind": "synthetic", "n": N, "range": [0, 1], "seed": 1337, "names": ["x"]},
        "outputs": [EMBED, SMALL],
        "output_kinds": {EMBED: "embedding", SMALL: "small"},
        "counted_outputs": [EMBED, SMALL],
        "dataset": {"name": "synthetic", "n_test": N},
        "variants": [
            _row("float32", 4000, f32, None),
            _row("float16", 2000, f16, tiny),
            _row("uint8", 1000, u8, collapsed),
        ],
        "seed": {},
        "note": "Your model.",
        "environment": {"python": "3.11"},
        "config": {"command": f"quantlab analyze {demo}"},
        "created": "2026-11-27",
    }
    if min_effect is not None:
        r["min_effect"] = min_effect
    return r

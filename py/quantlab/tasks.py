"""What to measure on a model's outputs: fidelity to float32 (always, label-free), and with labels
classification (accuracy, top-5), regression (MAE, RMSE) or retrieval (an embedding's
leave-one-out 1-NN accuracy by label, the MobileNetV2 backbone demo's figure). Detection from the
outputs and labels; `--task` overrides it (retrieval is never detected: class logits and feature
vectors look alike)."""

from __future__ import annotations

import numpy as np

from .errors import DataError
from .metrics import error_stats, loo_1nn_hits

TASKS = ("auto", "classification", "regression", "retrieval", "fidelity")


def is_class_scores(y: np.ndarray) -> bool:
    return y.ndim == 2 and y.shape[1] > 1


def is_probabilities(y: np.ndarray) -> bool:
    """Rows of non-negative numbers summing to 1 (softmax outputs)."""
    if not is_class_scores(y) or not np.all(np.isfinite(y)):
        return False
    return bool(np.all(y >= 0) and np.allclose(y.sum(axis=1), 1.0, atol=1e-3))


def detect_task(outputs: list[np.ndarray], labels: np.ndarray | None, override: str = "auto") -> str:
    """classification, regression or fidelity, from the first output and the labels (retrieval: asked)."""
    if override not in TASKS:
        raise DataError(f"--task {override!r}: valid: {', '.join(TASKS)}", exit_code=2)
    if labels is None:
        if override in ("classification", "regression", "retrieval"):
            raise DataError(
                f"--task {override} needs labels (an .npz with a labels array, or class subfolders)"
            )
        return "fidelity"
    if override != "auto":
        return override
    y = outputs[0]
    integer_labels = np.issubdtype(labels.dtype, np.integer) or (
        labels.ndim == 1 and np.all(np.equal(np.mod(labels, 1), 0))
    )
    if is_class_scores(y) and integer_labels and labels.ndim == 1:
        return "classification"
    return "regression"


def topk_hits(scores: np.ndarray, targets: np.ndarray, k: int) -> np.ndarray:
    """Per row: is the target among the k highest scores (ties: the lower index first)."""
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.any(top == targets.reshape(-1, 1), axis=1)


def label_metrics(
    task: str, y: np.ndarray, labels: np.ndarray, units: dict[str, float] | None = None
) -> dict[str, float]:
    """Accuracy (+ top-5 when there are more than 5 classes), or MAE and RMSE. `units` adds the
    MAE in other units for regression ({"dollars": s} gives mae_dollars = mae * s: the housing
    demo's labels are standardised, s is their standard deviation)."""
    if task == "classification":
        if not is_class_scores(y):
            raise DataError(f"classification needs class scores [N, C]; the first output is {list(y.shape)}")
        t = labels.astype(np.int64).reshape(-1)
        if t.min() < 0 or t.max() >= y.shape[1]:
            raise DataError(f"labels range {t.min()}..{t.max()} but the model has {y.shape[1]} classes")
        out = {"accuracy": float(np.mean(np.argmax(y, axis=1) == t))}
        if y.shape[1] > 5:
            out["top5_accuracy"] = float(np.mean(topk_hits(y, t, 5)))
        return out
    if task == "retrieval":
        return {"loo_1nn": float(np.mean(_retrieval_hits(y, labels)))}
    if task == "regression":
        pred = y.reshape(len(y), -1).astype(np.float64)
        target = labels.reshape(len(labels), -1).astype(np.float64)
        if pred.shape != target.shape:
            raise DataError(f"regression labels {list(labels.shape)} do not match the output {list(y.shape)}")
        err = pred - target
        mae = float(np.mean(np.abs(err)))
        return {"mae": mae, **_in_units(mae, units), "rmse": float(np.sqrt(np.mean(err * err)))}
    raise DataError(f"unknown task {task!r}")


def _retrieval_hits(y: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per example: is its nearest other example (cosine of the flattened output) of its label?"""
    if labels.ndim != 1 or len(labels) != len(y):
        raise DataError(f"retrieval needs one label per example; got labels {list(labels.shape)}")
    if len(y) < 2:
        raise DataError("retrieval needs at least 2 examples (each is matched to its nearest other one)")
    return loo_1nn_hits(y.reshape(len(y), -1).astype(np.float64), list(labels))


def _in_units(mae, units: dict[str, float] | None) -> dict:
    return {f"mae_{unit}": mae * scale for unit, scale in (units or {}).items()}


def per_example_scores(
    task: str, y: np.ndarray, labels: np.ndarray, units: dict[str, float] | None = None
) -> dict[str, np.ndarray]:
    """label_metrics per example (their means are label_metrics): accuracy / top-5 hits (bool),
    or each example's mean absolute error (mae) and mean squared error (rmse: the root of their
    mean). Call it after label_metrics, which checks the shapes."""
    if task == "classification":
        t = labels.astype(np.int64).reshape(-1)
        out = {"accuracy": np.argmax(y, axis=1) == t}
        if y.shape[1] > 5:
            out["top5_accuracy"] = topk_hits(y, t, 5)
        return out
    if task == "retrieval":
        return {"loo_1nn": _retrieval_hits(y, labels)}
    if task == "regression":
        err = y.reshape(len(y), -1).astype(np.float64) - labels.reshape(len(labels), -1).astype(np.float64)
        mae = np.mean(np.abs(err), axis=1)
        return {"mae": mae, **_in_units(mae, units), "rmse": np.mean(err * err, axis=1)}
    raise DataError(f"unknown task {task!r}")


def row_cosine(a: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Per-row cosine of [N, D] float64 arrays; two all-zero rows agree perfectly (1.0)."""
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(r, axis=1)
    cos = np.sum(a * r, axis=1) / np.where(norms == 0, 1.0, norms)
    # Two all-zero rows (e.g. a ReLU output) agree perfectly; one zero row against another does not.
    both_zero = ~np.any(a, axis=1) & ~np.any(r, axis=1)
    return np.where(both_zero, 1.0, cos)


def fidelity_per_example(y: np.ndarray, ref: np.ndarray) -> dict[str, np.ndarray]:
    """fidelity's cosine_mean and top1_agreement per example (cosine; bool hits)."""
    a = y.astype(np.float64).reshape(len(y), -1)
    r = ref.astype(np.float64).reshape(len(ref), -1)
    out = {"cosine_mean": row_cosine(a, r)}
    if is_class_scores(y):
        out["top1_agreement"] = np.argmax(y, axis=1) == np.argmax(ref, axis=1)
    return out


def fidelity(y: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """How far an output is from the float32 model's output on the same inputs."""
    a = y.astype(np.float64).reshape(len(y), -1)
    r = ref.astype(np.float64).reshape(len(ref), -1)
    errors = error_stats(a, r)  # the same figures as the weight error and parity
    out: dict[str, float] = {"nonfinite": errors["nonfinite"]}
    out |= {k: errors[k] for k in ("max_abs", "rel_l2", "sqnr_db")}
    cos = row_cosine(a, r)
    out["cosine_mean"] = float(np.mean(cos))
    out["cosine_min"] = float(np.min(cos))
    if is_class_scores(y):
        top_ref = np.argmax(ref, axis=1)
        out["top1_agreement"] = float(np.mean(np.argmax(y, axis=1) == top_ref))
        if y.shape[1] > 5:
            out["top5_agreement"] = float(np.mean(topk_hits(y, top_ref, 5)))
    if is_probabilities(ref) and is_probabilities(y):
        eps = 1e-12
        p, q = np.clip(r, eps, 1.0), np.clip(a, eps, 1.0)
        out["kl_divergence"] = float(np.mean(np.sum(p * np.log(p / q), axis=1)))
    if out["nonfinite"]:  # NaN or Inf never passes: every statistic says so
        for k in ("max_abs", "rel_l2", "sqnr_db", "cosine_mean", "cosine_min"):
            out[k] = None
    return out


PRIMARY = {
    "classification": "accuracy",
    "regression": "mae",
    "retrieval": "loo_1nn",
    "fidelity": "cosine_mean",
}

"""Task metrics and parity statistics, computed once in Python for every runtime."""

from __future__ import annotations

import numpy as np


def mae(pred: np.ndarray, target: np.ndarray) -> float:
    return float(np.mean(np.abs(pred.reshape(-1) - target.reshape(-1))))


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(probs, axis=-1) == labels.reshape(-1)))


def top_k_accuracy(probs: np.ndarray, labels: np.ndarray, k: int) -> float:
    top = np.argsort(-probs, axis=-1)[:, :k]
    return float(np.mean(np.any(top == labels.reshape(-1, 1), axis=1)))


def task_metrics(
    task: str, outputs: np.ndarray, targets: np.ndarray, label_std: float | None = None
) -> dict[str, float]:
    """Housing: MAE in normalised units and dollars; classifiers: accuracy."""
    if task == "regression":
        m = mae(outputs, targets)
        result = {"mae": m}
        if label_std is not None:
            result["mae_dollars"] = m * label_std
        return result
    if task == "classification":
        return {"accuracy": accuracy(outputs, targets)}
    raise ValueError(f"unknown task {task}")


def parity_stats(actual: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """How far `actual` is from `reference`: abs errors, relative L2, SQNR (dB), cosine."""
    a = actual.astype(np.float64).reshape(len(actual), -1)
    r = reference.astype(np.float64).reshape(len(reference), -1)
    diff = a - r
    signal = float(np.sum(r * r))
    noise = float(np.sum(diff * diff))
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(r, axis=1)
    cos = np.sum(a * r, axis=1) / np.where(norms == 0, 1.0, norms)
    stats = {
        "max_abs": float(np.max(np.abs(diff))) if diff.size else 0.0,
        "mean_abs": float(np.mean(np.abs(diff))) if diff.size else 0.0,
        "rel_l2": float(np.sqrt(noise / signal)) if signal > 0 else float(noise > 0),
        "sqnr_db": float(10 * np.log10(signal / noise)) if noise > 0 else float("inf"),
        "cosine_mean": float(np.mean(cos)),
        "cosine_min": float(np.min(cos)),
    }
    if a.shape[1] > 1:
        stats["top1_agreement"] = float(np.mean(np.argmax(a, 1) == np.argmax(r, 1)))
    return stats


def within_tolerance(actual: np.ndarray, reference: np.ndarray, atol: float, rtol: float) -> tuple[bool, int]:
    """An element fails only when it exceeds both atol and rtol*|reference| (as Polygraphy)."""
    diff = np.abs(actual.astype(np.float64) - reference.astype(np.float64))
    bad = (diff > atol) & (diff > rtol * np.abs(reference.astype(np.float64)))
    return not bool(bad.any()), int(bad.sum())

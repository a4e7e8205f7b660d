import numpy as np

from quantlab.metrics import accuracy, parity_stats, task_metrics, top_k_accuracy, within_tolerance


def test_task_metrics():
    probs = np.array([[0.1, 0.9], [0.8, 0.2], [0.4, 0.6]])
    assert accuracy(probs, np.array([1, 0, 0])) == 2 / 3
    assert top_k_accuracy(probs, np.array([1, 0, 0]), 2) == 1.0
    m = task_metrics("regression", np.array([[1.0], [2.0]]), np.array([[1.5], [2.0]]), 100.0)
    assert m == {"mae": 0.25, "mae_dollars": 25.0}


def test_parity_stats_and_tolerance():
    ref = np.array([[1.0, 2.0, 3.0], [0.5, 0.2, 0.1]])
    same = parity_stats(ref, ref)
    assert same["max_abs"] == 0 and same["sqnr_db"] == float("inf") and same["top1_agreement"] == 1
    noisy = ref + np.array([[0.0, 0.0, 0.1], [0.0, 0.0, 0.0]])
    s = parity_stats(noisy, ref)
    assert np.isclose(s["max_abs"], 0.1) and 20 < s["sqnr_db"] < 40 and s["cosine_min"] < 1
    # An element fails only when it exceeds both atol and rtol*|ref|.
    assert within_tolerance(noisy, ref, atol=0.05, rtol=0.05) == (True, 0)
    assert within_tolerance(noisy, ref, atol=0.05, rtol=0.01) == (False, 1)

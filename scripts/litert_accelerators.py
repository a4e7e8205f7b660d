"""Does LiteRT.js compute what TFLite computes, on wasm and on WebGPU? For each LiteRT variant
that `quantlab analyze MODEL --litert` wrote under MODELS/NAME/, run N random inputs (uniform in
LO,HI) in LiteRT.js on each accelerator and in TensorFlow's own tf.lite.Interpreter, and print
the max abs difference and mean cosine of the first output against the interpreter's output of
the same variant and of litert-float32. Figures are printed, never asserted.

    python scripts/litert_accelerators.py models/mnv2 --n 2 --range -1,1
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def _interpreter(path: Path, x: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    it = tf.lite.Interpreter(model_path=str(path))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    ys = []
    for k in range(len(x)):
        it.set_tensor(inp["index"], x[k : k + 1])
        it.invoke()
        ys.append(it.get_tensor(out["index"]).copy())
    return np.concatenate(ys).reshape(len(x), -1)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.sum(a * b, 1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))))


def main() -> None:
    from quantlab.convert.litert import MODEL_FILE, litert_folders
    from quantlab.runtimes.litert import LiteRTRuntime

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path, help="MODELS/NAME/ with litert-* folders")
    ap.add_argument("--n", type=int, default=2)
    ap.add_argument("--range", default="-1,1")
    ap.add_argument("--accelerators", default="wasm,webgpu")
    args = ap.parse_args()
    folders = litert_folders(args.root)
    first = folders["litert-float32"]
    import tensorflow as tf

    shape = tf.lite.Interpreter(model_path=str(first / MODEL_FILE)).get_input_details()[0]["shape"]
    lo, hi = (float(v) for v in args.range.split(","))
    x = np.random.default_rng(0).uniform(lo, hi, (args.n, *shape[1:])).astype(np.float32)
    ref = {v: _interpreter(f / MODEL_FILE, x) for v, f in folders.items()}
    for acc in args.accelerators.split(","):
        with LiteRTRuntime(acc, timeout=600) as rt:
            for v, folder in folders.items():
                model = rt.load(folder)
                out, _ = rt.predict(model, {"x": x})
                rt.unload(model)
                got = out[0].reshape(len(x), -1)
                same, f32 = ref[v], ref["litert-float32"]
                d_same, d_f32 = np.abs(got - same).max(), np.abs(got - f32).max()
                c_same, c_f32 = _cosine(got, same), _cosine(got, f32)
                print(
                    f"{v:20s} {acc:7s} vs interpreter: max abs {d_same:.4g}, cosine {c_same:.6f} | "
                    f"vs interpreter float32: max abs {d_f32:.4g}, cosine {c_f32:.6f}"
                )
    for v in folders:
        c = _cosine(ref[v], ref["litert-float32"])
        print(f"{v:20s} interpreter vs interpreter float32: cosine {c:.6f}")


if __name__ == "__main__":
    main()

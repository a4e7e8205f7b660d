"""MobileNetV2 backbone, graph vs layers model, per-tensor uint8 before and after cross-layer
equalization: leave-one-out 1-NN and mean cosine to float32 on the 1000 sample images (decoded and
preprocessed as the mobilenetv2 demo does). The figures of DESIGN 2.7's follow-up.

    QUANTLAB_DATA=... PYTHONPATH=py .venv/bin/python scripts/measure_equalize.py WORK [--limit N]
        [--runtime node-tensorflow] [--modes relu,keep]

WORK gets mnv2_sm/ (SavedModel), graph/<variant>/, layers/<variant>/ and figures.json; steps whose
folders exist are not redone."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402

from quantlab.analysis.weight_error import tensor_errors  # noqa: E402
from quantlab.convert.converter import dtype_map_for, save_tfjs  # noqa: E402
from quantlab.convert.equalize import equalize_artifact  # noqa: E402
from quantlab.convert.requantize import requantize  # noqa: E402
from quantlab.convert.source import write_float32  # noqa: E402
from quantlab.demos.datasets.imagenet import DecodedImages, find_image_folder, list_images  # noqa: E402
from quantlab.demos.mobilenet.model import build_mobilenet, resolve_weights  # noqa: E402
from quantlab.metrics import cosine_to_reference, loo_1nn_accuracy  # noqa: E402
from quantlab.runtimes import make_runtime  # noqa: E402
from quantlab.sources import detect  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("work", type=Path)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--runtime", default="node-tensorflow")
    ap.add_argument("--modes", default="clip,relu")
    ap.add_argument("--only", default=None, help="comma-separated graph variants to (re)measure; others kept")
    args = ap.parse_args()
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data_dir = Path(os.environ["QUANTLAB_DATA"]) if os.environ.get("QUANTLAB_DATA") else None
    sm = work / "mnv2_sm"
    if not sm.exists() or not (work / "layers" / "float32").exists():
        model = build_mobilenet(resolve_weights(None, data_dir))
        if not sm.exists():
            model.save(str(sm), save_format="tf")
        for v in ("float32", "uint8"):
            save_tfjs(model, work / "layers" / v, dtype_map_for(v))
    graph = work / "graph"
    if not (graph / "float32").exists():
        write_float32(detect(sm), graph / "float32")  # the stock converter, tf_saved_model
    for v in ("float16", "uint16", "uint8"):
        if not (graph / v).exists():
            requantize(graph / "float32", graph / v, dtype_map_for(v))
    reports = {}
    for mode in args.modes.split(","):
        eq = graph / f"equalized_{mode}"
        if not eq.exists():
            reports[mode] = equalize_artifact(graph / "float32", eq, mode).as_dict()
        if not (graph / f"equalized_{mode}_uint8").exists():
            requantize(eq, graph / f"equalized_{mode}_uint8", {"uint8": True})
    print(f"artifacts ready after {time.perf_counter() - t0:.0f} s", flush=True)

    samples, _ = list_images(find_image_folder(data_dir))
    figures: dict = {"runtime": args.runtime, "equalization": reports, "variants": {}}
    only = set(args.only.split(",")) if args.only else None
    if only and (work / "figures.json").exists():
        figures = json.loads((work / "figures.json").read_text())
        figures["equalization"] |= reports
    with tempfile.TemporaryDirectory() as tmp:
        images = DecodedImages(samples, 224, Path(tmp) / "decoded.npy", args.limit)
        wnids = [s.wnid for s in images.samples]
        with make_runtime(args.runtime, timeout=1200) as rt:
            outs = {}
            folders = {f"layers/{v}": work / "layers" / v for v in ("float32", "uint8")}
            done = sorted(
                (p for p in graph.iterdir() if (p / "model.json").exists()), key=lambda p: p.name != "float32"
            )
            folders |= {f"graph/{p.name}": p for p in done}
            if only:
                folders = {
                    k: v for k, v in folders.items() if k == "graph/float32" or k.split("/")[1] in only
                }
            for name, folder in folders.items():
                t1 = time.perf_counter()
                m = rt.load(folder)
                ys = [rt.predict(m, {"input_1": x}, batch_size=8)[0][0] for x in images.batches(32, "keras")]
                rt.unload(m)
                outs[name] = np.concatenate(ys)
                ref = outs[f"{name.split('/')[0]}/float32"]
                cos = cosine_to_reference(outs[name], ref)
                # the equalized float32 is also compared with the original float32 (its own reference)
                figures["variants"][name] = {
                    "loo_1nn": loo_1nn_accuracy(outs[name], wnids),
                    "cosine_mean": float(cos.mean()),
                    "cosine_min": float(cos.min()),
                    "seconds": round(time.perf_counter() - t1, 1),
                }
                print(name, figures["variants"][name], flush=True)
    for name in ("uint8", *[f"equalized_{m}_uint8" for m in args.modes.split(",")]):
        src = graph / ("float32" if name == "uint8" else name.removesuffix("_uint8"))
        t = tensor_errors(src, graph / name)
        shares = [r["median_channel_share"] for r in t["tensors"] if r["median_channel_share"] is not None]
        figures.setdefault("weights", {})[name] = {
            "diagnosis": t["diagnosis"],
            "median_channel_share_median": float(np.median(shares)),
            "tensors_under_10pct": int(sum(s < 0.1 for s in shares)),
            "n_kernels": len(shares),
        }
        print(name, figures["weights"][name], flush=True)
    figures["n_images"] = len(images)
    figures["wall_s"] = round(time.perf_counter() - t0, 1)
    (work / "figures.json").write_text(json.dumps(figures, indent=1))
    print(json.dumps({k: v for k, v in figures.items() if k != "equalization"}, indent=1))


if __name__ == "__main__":
    sys.exit(main())

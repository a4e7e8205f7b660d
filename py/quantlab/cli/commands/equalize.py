"""`quantlab equalize MODEL --out DIR`: cross-layer equalization (and bias correction) of a graph model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ...infra.progress import console
from ...input_spec import SYNTHETIC_SAMPLES, SYNTHETIC_SEED
from ..checks import (
    check_choice,
    check_non_negative,
    check_positive,
)
from ..guard import cli_errors
from ..options import (
    ImageSize,
    InputRange,
    Samples,
    Scale,
    Seed,
    Timeout,
    Verbose,
    check_dirs,
    check_tfjs_runtime,
    input_options,
)
from ..tables import print_json


@cli_errors
def equalize(
    model: Annotated[
        Path,
        typer.Argument(
            help="tfjs graph model (folder or model.json), SavedModel folder or Keras file "
            "(converted to a float32 graph model first)",
            show_default=False,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for the equalized float32 graph model")],
    inputs: Annotated[
        Path | None,
        typer.Option(
            "--inputs",
            help="Calibration inputs to measure the float32 change on: FILE.npy, FILE.npz or a folder "
            "of images; none: seeded synthetic inputs",
            show_default=False,
        ),
    ] = None,
    relu6: Annotated[
        str,
        typer.Option(
            help="A ReLU6 between two rescaled layers: clip (exact: ReLU then a per-channel Minimum), "
            "relu (make it ReLU, as DFQ did), keep (leave it; its clip moves) or skip (leave such pairs)"
        ),
    ] = "clip",
    tolerance: Annotated[
        float, typer.Option(help="Largest float32 output change allowed (relative L2) without --force")
    ] = 1e-4,
    force: Annotated[bool, typer.Option("--force", help="Write even beyond --tolerance")] = False,
    snap_clips: Annotated[
        bool,
        typer.Option(
            "--snap-clips",
            help="--relu6 clip: put the clip constants exactly on their uint8 grid (round up)",
        ),
    ] = False,
    bias_correction: Annotated[
        str | None,
        typer.Option(
            "--bias-correction",
            help="Also correct the biases for quantization to DTYPE (uint8), calibrated on up to "
            "--calibration of the inputs: the model written is then meant to be quantized to DTYPE",
            metavar="DTYPE",
        ),
    ] = None,
    calibration: Annotated[
        int, typer.Option(help="--bias-correction: how many inputs (evenly spaced) to calibrate on")
    ] = 64,
    image_size: ImageSize = None,
    scale: Scale = "0,1",
    input_range: InputRange = None,
    samples: Samples = SYNTHETIC_SAMPLES,
    limit: Annotated[int | None, typer.Option(help="Use the first N examples only")] = None,
    runtime: Annotated[str, typer.Option("--runtime", "-r", help="tfjs runtime to measure in")] = "node-wasm",
    timeout: Timeout = 600.0,
    seed: Seed = SYNTHETIC_SEED,
    as_json: Annotated[bool, typer.Option("--json", help="Print the record as JSON")] = False,
    verbose: Verbose = False,
) -> None:
    """Cross-layer equalization (Nagel et al., DFQ 2019) of consecutive conv/depthwise layers of a
    graph model, so that one per-tensor uint8 grid fits every channel: writes an ordinary float32
    tfjs graph model (same nodes and weight names, rescaled weights) that stock tfjs loads and
    `tensorflowjs_converter`'s or quantlab's quantization flags quantize. The float32 change and
    uint8's error before and after are measured in tfjs; beyond --tolerance nothing is written
    unless --force (exit 6). A model without equalizable pairs is left alone (exit 0).
    --bias-correction uint8 then subtracts each conv's expected uint8 output shift from its bias
    (DFQ's bias correction, calibrated in tfjs on the inputs).

    Example: `quantlab equalize mobilenet_sm/ --out mobilenet_eq --inputs images/ --scale -1,1 --limit 200`
    or, for a model to ship all-uint8: `... --bias-correction uint8`"""
    from ...analysis.equalize_run import run_equalize
    from ...convert.equalize import RELU6_MODES
    from ...sources import detect

    check_choice(relu6, RELU6_MODES, "--relu6")
    check_tfjs_runtime(runtime)
    check_non_negative(tolerance, "--tolerance")
    check_positive(timeout, "--timeout")
    check_positive(calibration, "--calibration")
    check_dirs(out=out)
    if bias_correction is not None:
        check_choice(bias_correction, ["uint8"], "--bias-correction")  # what uint8_after measures
    opts = input_options(inputs, "y", image_size, scale, input_range, samples, None, seed, limit)
    source = detect(model)
    record = run_equalize(
        source, out, opts, relu6, tolerance, force, runtime, timeout, snap_clips, bias_correction, calibration
    )
    if as_json:
        print_json(record)
        return
    if record["status"] == "no-pairs":
        found = record["pairs_found"]
        why = f"{found} found, none usable (see --relu6)" if found else "none in the graph"
        console.print(
            f"{model}: no equalizable conv/depthwise pairs ({why}); nothing written",
            highlight=False,
            soft_wrap=True,
        )
        return
    eq = record["equalization"]
    f32, before, after = record["float32_change"], record["uint8_before"], record["uint8_after"]
    console.print(
        f"equalized {len(eq['pairs'])} pairs ({len(eq['skipped'])} skipped) in {eq['sweeps']} sweeps; "
        f"ReLU6 -> ReLU in {len(eq['relu6_replaced_by_relu'])} layers",
        highlight=False,
    )
    console.print(
        f"float32 change on {record['inputs']['n']} inputs: relative L2 {f32['rel_l2']:.3g}, "
        f"cosine mean {f32['cosine_mean']:.6f} min {f32['cosine_min']:.6f}"
        + (" (beyond --tolerance: --force)" if record["forced"] else ""),
        highlight=False,
    )
    console.print(
        f"uint8 vs float32, worst output (#{after.get('output_index', 0)}, {after.get('output_kind', '?')}): "
        + _figure_change(before, after)
        + (" (equalized, then bias-corrected)" if record.get("bias_correction") else ""),
        highlight=False,
    )
    bc = record.get("bias_correction")
    if bc:
        only = record["uint8_after_equalization_only"]
        console.print(
            f"bias correction for {bc['target']}: {bc['n_layers']} biases, calibrated on "
            f"{bc['n_calibration']} inputs; uint8 cosine mean without it {only['cosine_mean']:.4f}; "
            f"the model written is meant to be quantized to {bc['target']}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"wrote {out} (and {out}/equalize.json)", highlight=False)


def _figure_change(before: dict, after: dict) -> str:
    """The worst output's own figure before -> after (its kind's metric, as analyze's headline),
    and its relative L2. Equalization may make another output the worst: then each figure is
    named with its own metric and the earlier output's index, never one label over two outputs."""
    from ...judge import METRIC_WORDS

    def value(d: dict) -> str:
        return "n/a" if d["value"] is None else f"{d['value']:.4g}"

    def words(d: dict) -> str:
        return METRIC_WORDS.get(d["metric"], d["metric"])

    if before["output_index"] == after["output_index"]:
        change = f"{words(after)} {value(before)} -> {value(after)}"
    else:
        was = f"{words(before)} {value(before)} (output #{before['output_index']})"
        change = f"{was} -> {words(after)} {value(after)}"
    return f"{change}, relative L2 {before['rel_l2']:.3g} -> {after['rel_l2']:.3g}"

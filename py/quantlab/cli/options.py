"""Options shared by several commands, declared once (each command's signature subscribes to
the ones it takes), and the checks that turn their values into what the engine takes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..demos.registry import ALL_DEMOS
from ..errors import QuantlabError
from .checks import (
    check_choice,
    check_positive,
    check_seed,
)

DemoArg = Annotated[
    list[str] | None,
    typer.Argument(help=f"Demos to process (default: all): {', '.join(ALL_DEMOS)}", show_default=False),
]


DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Folder with the data sets (else $QUANTLAB_DATA, else ~/.cache/quantlab)",
        show_default=False,
    ),
]


OutDir = Annotated[Path, typer.Option("--out", help="Where results.json and HTML reports go")]


ModelsDir = Annotated[Path, typer.Option("--models-dir", help="Where trained models and tfjs variants go")]


Quick = Annotated[bool, typer.Option("--quick", help="Smoke profile: 1-3 epochs, data subsets")]


Backend = Annotated[
    str,
    typer.Option(
        "--backend",
        help="tfjs backend in Node: wasm, cpu or tensorflow (tfjs-node, after `quantlab setup --tfjs-node`)",
    ),
]


Timeout = Annotated[float, typer.Option("--timeout", help="Seconds to wait for one tfjs job")]


Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Debug logs (incl. Node stderr)")]


Workers = Annotated[
    int | None,
    typer.Option(
        "--workers",
        help="Evaluator processes working in parallel (default: one per core for wasm and cpu, which run "
        "on one thread in Node; 1 for tfjs-node, which uses every core itself)",
        show_default=False,
    ),
]


Executor = Annotated[
    str,
    typer.Option("--executor", help="local (evaluators on this machine) or ray (Ray actors; quantlab[ray])"),
]


RayAddress = Annotated[
    str | None,
    typer.Option(
        "--ray-address", help="With --executor ray: join this cluster (host:port or auto)", show_default=False
    ),
]


# Inputs for a user's model: the same options in `analyze` and `parity MODEL`.
InputsOpt = Annotated[
    Path | None,
    typer.Option(
        "--inputs",
        help="FILE.npy (one input), FILE.npz (arrays named after the inputs), or a folder of "
        "images; none: seeded synthetic inputs",
        show_default=False,
    ),
]


LabelsKey = Annotated[str, typer.Option(help="Labels array in the .npz")]


ImageSize = Annotated[int | None, typer.Option(help="Images: resize to SIZE x SIZE (default: the model's)")]


Scale = Annotated[str, typer.Option(help="Images: map pixels 0..255 linearly onto LO,HI")]


InputRange = Annotated[
    str | None, typer.Option(help="Synthetic inputs: uniform in LO,HI (default 0,1; integers 0,10)")
]


Samples = Annotated[int, typer.Option(help="Synthetic inputs: how many examples")]


InputShape = Annotated[
    list[str] | None,
    typer.Option("--input-shape", help="NAME:DIMS for dynamic dimensions, e.g. x:1,128 (repeatable)"),
]


Seed = Annotated[int, typer.Option(help="Seed of synthetic inputs")]


# The same, on commands that take a DEMO or a MODEL (evaluate, tune): they apply to a MODEL only.
ModelInputs = Annotated[
    Path | None, typer.Option("--inputs", help="MODEL only: .npy, .npz or image folder (as analyze)")
]


ModelLabelsKey = Annotated[str, typer.Option(help="MODEL only: labels array in the .npz")]


ModelImageSize = Annotated[
    int | None, typer.Option(help="MODEL only, image folder: resize to SIZE x SIZE (default: the model's)")
]


ModelScale = Annotated[str, typer.Option(help="MODEL only, image folder: map pixels 0..255 onto LO,HI")]


ModelInputRange = Annotated[
    str | None, typer.Option(help="MODEL only, synthetic inputs: uniform in LO,HI (default 0,1)")
]


ModelInputShape = Annotated[
    list[str] | None,
    typer.Option(help="MODEL only: NAME:D1,D2,... for an input's unknown dimensions (repeatable)"),
]


OutputFormat = Annotated[
    str | None,
    typer.Option(help="layers or graph (default: layers for Keras files, graph for SavedModels)"),
]


FormatOverride = Annotated[
    str | None,
    typer.Option(
        "--format",
        help="MODEL's format, insisted on: tfjs-layers, tfjs-graph, keras-h5, keras-v3 or saved-model "
        "(picks the SavedModel in a folder that also has a model.json; a model of another format is refused)",
    ),
]


LiteRT = Annotated[
    bool,
    typer.Option(
        "--litert",
        help="Also LiteRT variants (.tflite by tf.lite.TFLiteConverter: float32, float16, dynamic int8, "
        "full int8) run in LiteRT.js in Chromium, rows of the same results (Keras or SavedModel MODEL; "
        "trained demos, full int8 calibrated on their training data)",
    ),
]


ModelName = Annotated[
    str | None, typer.Option(help="Results name: MODELS/NAME/, OUT/NAME/ (default: from MODEL)")
]


def input_options(
    inputs: Path | None,
    labels_key: str,
    image_size: int | None,
    scale: str,
    input_range: str | None,
    samples: int,
    input_shape: list[str] | None,
    seed: int,
    limit: int | None,
):
    """The InputOptions of a user's model from the shared command-line options (checked: exit 2)."""
    from ..input_spec import InputOptions
    from ..inputs import parse_input_shapes, parse_range

    check_positive(samples, "--samples")
    check_seed(seed)
    if limit is not None:
        check_positive(limit, "--limit")
    if image_size is not None:
        check_positive(image_size, "--image-size")
    return InputOptions(
        path=inputs,
        labels_key=labels_key,
        image_size=image_size,
        scale=parse_range(scale, "--scale"),
        input_range=parse_range(input_range, "--input-range") if input_range else None,
        samples=samples,
        input_shapes=parse_input_shapes(input_shape or []),
        seed=seed,
        limit=limit,
    )


def check_pool_options(workers: int | None, executor: str, ray_address: str | None) -> None:
    """--workers, --executor, --ray-address: checked before any work (exit 2)."""
    from ..analysis.executors import EXECUTORS
    from ..analysis.jobs import check_workers

    check_workers(workers)
    if executor not in EXECUTORS:
        raise QuantlabError(f"--executor {executor!r}: valid: {', '.join(EXECUTORS)}", exit_code=2)
    if ray_address and executor != "ray":
        raise QuantlabError("--ray-address needs --executor ray", exit_code=2)
    if executor == "ray":
        from ..analysis.pool_ray import check_ray

        check_ray(ray_address)


def parse_maps(items: list[str] | None) -> dict | None:
    """--map DTYPE=PATTERN[,PATTERN...] (repeatable) -> the converter's quantization_dtype_map."""
    if not items:
        return None
    dtype_map: dict = {}
    for item in items:
        dtype, _, patterns = item.partition("=")
        if not dtype or not patterns:
            raise QuantlabError(f"--map {item!r}: expected DTYPE=PATTERN[,PATTERN...]", exit_code=2)
        from ..convert.converter import QUANT_DTYPES

        if dtype not in QUANT_DTYPES:
            raise QuantlabError(
                f"--map {item!r}: unknown dtype {dtype!r}; valid: {', '.join(QUANT_DTYPES)}", exit_code=2
            )
        dtype_map[dtype] = True if patterns == "*" else patterns.split(",")
    return dtype_map


def check_tfjs_runtime(runtime: str) -> None:
    """--runtime of a command that measures tfjs: any runtime but keras."""
    from ..runtimes import RUNTIMES

    check_choice(runtime, [r for r in RUNTIMES if r != "keras"], "--runtime")


def check_dirs(**dirs: Path | None) -> None:
    """--out, --models-dir, ...: each is, or can become, a folder; checked before any work."""
    from ..workspace import check_writable_dir

    for option, path in dirs.items():
        if path is not None:  # --data-dir is only read, but a file or a 256-byte name is no folder
            check_writable_dir(path, "--" + option.replace("_", "-"))

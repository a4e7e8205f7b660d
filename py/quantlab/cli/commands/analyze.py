"""`quantlab analyze MODEL...`: a user's models, every variant judged in tfjs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ...errors import QuantlabError
from ...input_spec import SYNTHETIC_SAMPLES, SYNTHETIC_SEED
from ..checks import (
    check_positive,
)
from ..guard import cli_errors
from ..options import (
    Executor,
    FormatOverride,
    ImageSize,
    InputRange,
    InputShape,
    InputsOpt,
    LabelsKey,
    LiteRT,
    ModelName,
    ModelsDir,
    OutDir,
    OutputFormat,
    RayAddress,
    Samples,
    Scale,
    Seed,
    Timeout,
    Verbose,
    Workers,
    check_pool_options,
    check_tfjs_runtime,
    input_options,
    parse_maps,
)
from ..targets import model_name


@cli_errors
def analyze(
    models: Annotated[
        list[Path],
        typer.Argument(
            help="One or more models: a tfjs layers or graph model (a folder, or its manifest: "
            "model.json or NAME.json as a package ships it), a Keras .h5 or .keras file, or a "
            "SavedModel folder",
            show_default=False,
        ),
    ],
    inputs: InputsOpt = None,
    labels_key: LabelsKey = "y",
    image_size: ImageSize = None,
    scale: Scale = "0,1",
    input_range: InputRange = None,
    samples: Samples = SYNTHETIC_SAMPLES,
    input_shape: InputShape = None,
    limit: Annotated[int | None, typer.Option(help="Use the first N examples only")] = None,
    variants: Annotated[
        str, typer.Option("--variants", help="Comma-separated: float32,float16,uint16,uint8")
    ] = "float32,float16,uint16,uint8",
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="An extra mixed-precision variant: DTYPE=PATTERN[,PATTERN...] (repeatable), "
            "weight names as in "
            "the manifest, e.g. --map 'uint8=*' --map 'float16=*/moving_variance'",
        ),
    ] = None,
    map_name: Annotated[str, typer.Option(help="Folder name of the --map variant")] = "custom",
    output_format: OutputFormat = None,
    format_: FormatOverride = None,
    task: Annotated[
        str,
        typer.Option(
            help="auto, classification, regression, retrieval (an embedding: leave-one-out 1-NN "
            "accuracy by label) or fidelity"
        ),
    ] = "auto",
    runtime: Annotated[
        str | None,
        typer.Option(
            "--runtime",
            "-r",
            help="tfjs runtime to measure in [default: node-wasm; when it lacks an op the model "
            "uses, a Node runtime that ran the model here]",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        list[str] | None,
        typer.Option(
            "--output",
            help="An output that counts for the headline and verdict (repeatable; default: every "
            "output). The others are still judged and shown",
        ),
    ] = None,
    min_effect: Annotated[
        list[str] | None,
        typer.Option(
            "--min-effect",
            help="METRIC=VALUE (repeatable): the smallest change that counts as a loss, e.g. "
            "cosine_mean=0.001, top1_agreement=0.01, accuracy=0.005",
        ),
    ] = None,
    allow_nonfinite: Annotated[
        bool,
        typer.Option(
            "--allow-nonfinite",
            help="Go on when a learned weight holds NaN/Inf (it stays float32 in every variant)",
        ),
    ] = False,
    litert: LiteRT = False,
    litert_runtime: Annotated[
        str, typer.Option(help="Where the LiteRT variants run: browser-litert-wasm or browser-litert-webgpu")
    ] = "browser-litert-wasm",
    calibration: Annotated[
        int,
        typer.Option(
            help="--litert: examples of --inputs held out (never scored) to calibrate full int8 "
            "(0: min(100, a quarter))",
        ),
    ] = 0,
    name: ModelName = None,
    out: OutDir = Path("reports"),
    models_dir: ModelsDir = Path("models"),
    timeout: Timeout = 600.0,
    seed: Seed = SYNTHETIC_SEED,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results record as JSON")] = False,
    workers: Workers = None,
    executor: Executor = "local",
    ray_address: RayAddress = None,
    verbose: Verbose = False,
) -> None:
    """Your model, your data: convert to float32/float16/uint16/uint8 tfjs variants, run each in
    TensorFlow.js, and judge every output against float32 (plus accuracy or MAE when labels are
    given). A variant's headline is its worst output.

    Examples: `quantlab analyze my_model.h5 --inputs test.npz`;
    `quantlab analyze web_model/ --inputs images/ --scale -1,1`;
    `quantlab analyze faceres.json` (a shipped NAME.json + NAME.bin, synthetic inputs);
    `quantlab analyze models/*.json` (many models: one page each and OUT/overview.html);
    `quantlab analyze my_model.h5 --inputs test.npz --litert` (tfjs or LiteRT.js, side by side)
    """
    from ... import workspace
    from ...analysis.analyze import AnalyzeOptions
    from ...convert.converter import dtype_map_for
    from ...loss import parse_min_effect
    from ...tasks import TASKS
    from ..analyze_many import analyze_models

    chosen = [v.strip() for v in variants.split(",") if v.strip()]
    for v in chosen:
        dtype_map_for(v)
    if "float32" not in chosen:
        chosen.insert(0, "float32")  # the reference every fidelity figure is measured against
    if runtime is not None:
        check_tfjs_runtime(runtime)
    if task not in TASKS:
        raise QuantlabError(f"--task {task!r}: valid: {', '.join(TASKS)}", exit_code=2)
    input_opts = input_options(
        inputs, labels_key, image_size, scale, input_range, samples, input_shape, seed, limit
    )
    check_positive(timeout, "--timeout")
    check_pool_options(workers, executor, ray_address)
    if litert_runtime not in ("browser-litert-wasm", "browser-litert-webgpu"):
        raise QuantlabError(
            f"--litert-runtime {litert_runtime}: valid: browser-litert-wasm, browser-litert-webgpu",
            exit_code=2,
        )
    if calibration < 0:
        raise QuantlabError(f"--calibration {calibration}: must be >= 0", exit_code=2)
    custom = parse_maps(map_)
    margins = parse_min_effect(min_effect or [])
    if name is not None and len(models) > 1:
        raise QuantlabError(
            "--name names one model; with several MODELs each is named by its file", exit_code=2
        )
    if custom:
        workspace.check_name(map_name, "--map-name", workspace.RESERVED)
    workspace.check_writable_dir(out, "--out")
    workspace.check_writable_dir(models_dir, "--models-dir")

    def options(model: Path) -> AnalyzeOptions:
        return AnalyzeOptions(
            name=model_name(model, name),
            variants=chosen,
            custom_map=custom,
            custom_name=map_name,
            output_format=output_format,
            inputs=input_opts,
            task=task,
            runtime=runtime or "node-wasm",
            runtime_given=runtime is not None,
            timeout=timeout,
            workers=workers,
            executor=executor,
            ray_address=ray_address,
            models_dir=models_dir,
            out_dir=out,
            outputs=output,
            min_effect=margins,
            allow_nonfinite=allow_nonfinite,
            litert=litert,
            litert_runtime=litert_runtime,
            calibration=calibration,
        )

    from ...infra.npm_install import npm_root

    npm_root()  # tfjs' npm packages before any conversion (installed on first need, or one line offline)
    analyze_models(models, options, format_, out, as_json)

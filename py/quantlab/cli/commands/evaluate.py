"""`quantlab evaluate DEMO|MODEL`: measure existing variants in tfjs (no training)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ...input_spec import SYNTHETIC_SAMPLES, SYNTHETIC_SEED
from ...tfjs import MODEL_JSON
from ...workspace import locked_folders, variant_dir
from ..checks import (
    check_backend,
    check_choice,
    check_demo_litert,
    check_limit,
    check_positive,
)
from ..guard import cli_errors
from ..options import (
    Backend,
    DataDir,
    DemoArg,
    Executor,
    FormatOverride,
    LiteRT,
    ModelImageSize,
    ModelInputRange,
    ModelInputs,
    ModelInputShape,
    ModelLabelsKey,
    ModelScale,
    ModelsDir,
    OutDir,
    RayAddress,
    Timeout,
    Verbose,
    Workers,
    check_dirs,
    check_pool_options,
)
from ..tables import print_litert_lines, print_workers_line, warn_nonfinite
from ..targets import demos_named, model_only, model_path, preprocessings
from .analyze import analyze


@cli_errors
def evaluate(
    demos: DemoArg = None,
    backend: Backend = "wasm",
    data_dir: DataDir = None,
    out: OutDir = Path("reports"),
    models_dir: ModelsDir = Path("models"),
    variant: Annotated[
        list[str] | None,
        typer.Option(
            help="Variants to evaluate (repeatable; default all): float32, float16, uint16, uint8, or any "
            "folder of MODELS/DEMO/ with a model.json (tuned, a --map name)"
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(help="Evaluate the first N test examples only (default and 0: all)")
    ] = None,
    preprocessing: Annotated[
        str, typer.Option(help="mobilenetv2: keras ([-1, 1], what the model expects) or seed (/255)")
    ] = "keras",
    inputs: ModelInputs = None,
    labels_key: ModelLabelsKey = "y",
    image_size: ModelImageSize = None,
    scale: ModelScale = "0,1",
    name: Annotated[
        str | None, typer.Option(help="MODEL only: folder name under --out and --models-dir (as analyze)")
    ] = None,
    input_range: ModelInputRange = None,
    samples: Annotated[
        int | None,
        typer.Option(help=f"MODEL only, no --inputs: synthetic examples (default {SYNTHETIC_SAMPLES})"),
    ] = None,
    input_shape: ModelInputShape = None,
    seed: Annotated[
        int | None, typer.Option(help=f"MODEL only: seed of synthetic inputs (default {SYNTHETIC_SEED})")
    ] = None,
    task: Annotated[
        str | None, typer.Option(help="MODEL only: auto, classification, regression, retrieval or fidelity")
    ] = None,
    format_: FormatOverride = None,
    litert: LiteRT = False,
    timeout: Timeout = 600.0,
    workers: Workers = None,
    executor: Executor = "local",
    ray_address: RayAddress = None,
    verbose: Verbose = False,
) -> None:
    """Evaluate existing tfjs variants in Node and write results.json (no training).

    DEMO may also be your MODEL: then this is `quantlab analyze MODEL` with these options
    (e.g. `quantlab evaluate web_model/ --inputs test.npz --variant float32 --variant uint8`)."""
    model = model_path(demos)
    if model is not None:
        check_backend(backend)
        chosen = ",".join(variant or ["float32", "float16", "uint16", "uint8"])
        check_limit(limit)
        return analyze(
            [model], inputs=inputs, labels_key=labels_key, image_size=image_size, scale=scale,
            variants=chosen, runtime=f"node-{backend}", limit=limit or None, name=name, out=out,
            models_dir=models_dir, format_=format_, timeout=timeout, workers=workers,
            executor=executor, ray_address=ray_address, verbose=verbose, input_range=input_range,
            samples=SYNTHETIC_SAMPLES if samples is None else samples, input_shape=input_shape,
            seed=SYNTHETIC_SEED if seed is None else seed, task=task or "auto", litert=litert,
        )  # fmt: skip
    model_only(
        format_=format_, input_range=input_range, samples=samples, input_shape=input_shape, seed=seed,
        task=task, inputs=inputs, image_size=image_size, name=name,
    )  # fmt: skip
    from ...analysis.executors import make_pool
    from ...convert.converter import dtype_map_for
    from ...demos.registry import DemoOptions

    check_pool_options(workers, executor, ray_address)
    check_backend(backend)
    check_choice(preprocessing, preprocessings(), "--preprocessing")
    chosen = demos_named(demos)
    variants = variant or None  # None: each demo's own (the four, plus the graph demo's equalized)
    from ... import workspace

    for v in variants or []:
        workspace.check_name(v, "--variant")  # a folder under MODELS/<demo>/: one plain name
    extras = {v for demo in chosen for v in getattr(demo, "extra_variants", ())}
    for v in variants or []:
        made = all((variant_dir(models_dir, demo.name, v) / MODEL_JSON).is_file() for demo in chosen)
        if v not in extras and not made:  # a tuned or --map variant is measured like the others
            dtype_map_for(v)  # validates the name
    all_limit = limit == 0
    limit = check_limit(limit)
    check_positive(timeout, "--timeout")
    check_dirs(out=out, models_dir=models_dir, data_dir=data_dir)
    lite = check_demo_litert([d.name for d in chosen], timeout) if litert else None
    opts = DemoOptions(
        data_dir, limit=0 if all_limit else limit, preprocessing=preprocessing, litert=lite, timeout=timeout
    )
    folders = [Path(d) / demo.name for demo in chosen for d in (models_dir, out)]
    pool = make_pool(f"node-{backend}", workers, timeout, executor, ray_address)
    with locked_folders(*folders), pool as runtime:
        for demo in chosen:
            record = demo.evaluate(runtime, models_dir, out, opts, variants, config={"backend": backend})
            warn_nonfinite(record)
            if record.get("litert"):
                print_litert_lines(record)
    print_workers_line(pool)

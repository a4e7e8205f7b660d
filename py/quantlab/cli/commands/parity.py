"""`quantlab parity DEMO|MODEL`: tfjs runtimes against a reference, the runtime's error apart from
the quantization's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ...demos.registry import ALL_DEMOS
from ...errors import QuantlabError
from ...input_spec import SYNTHETIC_SAMPLES, SYNTHETIC_SEED
from ..checks import (
    check_limit,
    check_non_negative,
    check_positive,
    check_seed,
)
from ..guard import cli_errors
from ..options import (
    DataDir,
    Executor,
    FormatOverride,
    ImageSize,
    InputRange,
    InputShape,
    InputsOpt,
    LabelsKey,
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
    check_dirs,
    check_pool_options,
    input_options,
)
from ..tables import print_json
from ..targets import resolve_subject


@cli_errors
def parity(
    model: Annotated[
        str,
        typer.Argument(
            help=f"A demo ({', '.join(ALL_DEMOS)}), or your model: a tfjs layers or graph model (folder or "
            "model.json), a Keras .h5 or .keras file, or a SavedModel folder",
            show_default=False,
        ),
    ],
    variant: Annotated[list[str] | None, typer.Option(help="Variants (repeatable; default all)")] = None,
    runtime: Annotated[
        list[str] | None,
        typer.Option("--runtime", "-r", help="Runtimes (repeatable; default all, unavailable ones reported)"),
    ] = None,
    atol: Annotated[float, typer.Option(help="Absolute tolerance, >= 0 (tfjs e2e tests use 0.005)")] = 0.005,
    rtol: Annotated[
        float, typer.Option(help="Relative tolerance, >= 0; an element fails only past both")
    ] = 0.005,
    limit: Annotated[
        int | None,
        typer.Option(
            help="Examples to compare (demos: default 1000, mobilenetv2 100; your model: default all); "
            "0 = all"
        ),
    ] = None,
    data_dir: DataDir = None,
    inputs: InputsOpt = None,
    labels_key: LabelsKey = "y",
    image_size: ImageSize = None,
    scale: Scale = "0,1",
    input_range: InputRange = None,
    samples: Samples = SYNTHETIC_SAMPLES,
    input_shape: InputShape = None,
    seed: Seed = SYNTHETIC_SEED,
    output_format: OutputFormat = None,
    format_: FormatOverride = None,
    name: ModelName = None,
    out: OutDir = Path("reports"),
    models_dir: ModelsDir = Path("models"),
    timeout: Timeout = 600.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the parity record as JSON")] = False,
    workers: Workers = None,
    executor: Executor = "local",
    ray_address: RayAddress = None,
    verbose: Verbose = False,
) -> None:
    """Compare a reference with tfjs in Node (wasm, cpu, tfjs-node) and in Chromium (cpu, wasm, webgl).

    The reference: Keras for the demos and for Keras files, TensorFlow itself for SavedModels,
    and for a bare tfjs model its own files in tfjs node-cpu (the record and the report say which).
    Separates the runtime's difference (tfjs V vs the reference on V, same dequantized weights) from
    the quantization's (the reference on V vs the original float32 model), compares every output,
    names the first diverging layer of a failing pair (layers models), and exits 6 when a pair is
    out of tolerance. Your model's variants are `MODELS/NAME/VARIANT/` as `quantlab analyze`
    writes them (converted when missing); its inputs take the same options as `analyze`.
    Examples: `quantlab parity mnist --limit 1000 -r node-wasm -r browser-webgl`;
    `quantlab parity my_model.h5 --inputs test.npz -r node-wasm -r browser-cpu`
    """
    from ...analysis.parity_run import ParityOptions, measure_parity
    from ...convert.converter import VARIANTS
    from ...report import render_with_section
    from ...runtimes import RUNTIMES
    from ..tables.parity import print_parity

    runtimes = runtime or list(RUNTIMES)
    for r in runtimes:
        if r not in RUNTIMES:
            raise QuantlabError(f"unknown runtime {r!r}; valid: {', '.join(RUNTIMES)}", exit_code=2)
    check_non_negative(atol, "--atol")
    check_non_negative(rtol, "--rtol")
    check_seed(seed)
    if limit is not None:
        check_limit(limit)  # 0: every example; None: the subject's default
    check_positive(timeout, "--timeout")
    check_pool_options(workers, executor, ray_address)
    check_dirs(out=out, models_dir=models_dir, data_dir=data_dir)
    inputs_given = input_options(
        inputs, labels_key, image_size, scale, input_range, samples, input_shape, seed, limit or None
    )
    subject = resolve_subject(
        model, models_dir, out, data_dir=data_dir, limit=limit, name=name, format_=format_,
        inputs=inputs_given, output_format=output_format,
    )  # fmt: skip
    opts = ParityOptions(
        variants=variant or list(VARIANTS),
        runtimes=runtimes,
        atol=atol,
        rtol=rtol,
        timeout=timeout,
        workers=workers,
        executor=executor,
        ray_address=ray_address,
    )
    record = measure_parity(subject, opts)
    if as_json:
        print_json(record)
    else:
        print_parity(record)
    adds = f"`quantlab {'run' if subject.kind == 'demo' else 'analyze'} {model}`"
    render_with_section(out, subject.name, adds)  # the page's parity section
    if not record["passed"]:
        raise typer.Exit(6)

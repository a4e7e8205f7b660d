"""`quantlab diagnose DEMO|MODEL --variant V`: where in the network V's error enters, node by node,
in tfjs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ...demos.registry import ALL_DEMOS
from ...errors import QuantlabError
from ...input_spec import SYNTHETIC_SAMPLES, SYNTHETIC_SEED
from ..checks import check_limit, check_positive, check_seed
from ..guard import cli_errors
from ..options import (
    DataDir,
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
    Samples,
    Scale,
    Seed,
    Timeout,
    Verbose,
    check_dirs,
    input_options,
)
from ..tables import print_json
from ..targets import resolve_subject


@cli_errors
def diagnose(
    model: Annotated[
        str,
        typer.Argument(
            help=f"A demo ({', '.join(ALL_DEMOS)}), or your model: a tfjs layers or graph model (folder or "
            "model.json), a Keras .h5 or .keras file, or a SavedModel folder",
            show_default=False,
        ),
    ],
    variant: Annotated[
        str, typer.Option("--variant", help="The variant to diagnose against float32")
    ] = "uint8",
    runtime: Annotated[
        str, typer.Option("--runtime", "-r", help="The tfjs runtime both run in (node-* or browser-*)")
    ] = "node-wasm",
    limit: Annotated[int, typer.Option(help="Examples to run (0 = all)")] = 64,
    node: Annotated[
        list[str] | None,
        typer.Option("--node", help="Only this node (graph) or layer (repeatable; default all)"),
    ] = None,
    max_memory: Annotated[
        float, typer.Option(help="MB of node outputs the runtime may hold at once (calls are sized to it)")
    ] = 512.0,
    top: Annotated[int, typer.Option(help="Nodes named in each list of the summary")] = 5,
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
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole record as JSON")] = False,
    open_: Annotated[
        bool,
        typer.Option(
            "--open",
            help="Then start Model Explorer (127.0.0.1 only) on the graph with the overlays, and open it; "
            "Ctrl-C stops it (needs `pip install 'quantlab[explorer]'`)",
        ),
    ] = False,
    verbose: Verbose = False,
) -> None:
    """Show where a variant's error enters: every node's output (layers: every layer's) compared
    with float32's in tfjs.

    float32 and the variant run in one tfjs runtime on the same inputs. Per node: the
    accumulated error (SQNR, relative L2, cosine, max abs: the variant's output against
    float32's), the local error (the node alone with the variant's weights on float32's values of
    its inputs: the error it adds) and float32's range (values past float16's 65504, which become
    Inf in 16-bit GPU textures such as browser-webgl-f16, and values under its smallest normal).
    The summary names where the accumulated SQNR falls most, the worst local errors and which
    model outputs they feed. Writes OUT/NAME/diagnose/VARIANT.json.
    Examples: `quantlab diagnose mobilenetv2-graph --variant uint8`;
    `quantlab diagnose model.json --variant uint8 --inputs batch.npz --node conv1/Relu6`
    """
    from ...analysis.diagnose_run import DiagnoseOptions, measure_diagnose
    from ...runtimes import RUNTIMES
    from ..tables.diagnose import print_diagnose

    tfjs = [r for r in RUNTIMES if r != "keras"]
    if runtime not in tfjs:
        raise QuantlabError(
            f"--runtime {runtime}: diagnose runs in tfjs; valid: {', '.join(tfjs)}", exit_code=2
        )
    check_limit(limit)
    check_positive(max_memory, "--max-memory")
    check_positive(top, "--top")
    check_positive(timeout, "--timeout")
    check_seed(seed)
    check_dirs(out=out, models_dir=models_dir, data_dir=data_dir)
    inputs_given = input_options(
        inputs, labels_key, image_size, scale, input_range, samples, input_shape, seed, limit or None
    )
    subject = resolve_subject(
        model, models_dir, out, data_dir=data_dir, limit=limit, name=name, format_=format_,
        inputs=inputs_given, output_format=output_format,
    )  # fmt: skip
    opts = DiagnoseOptions(
        variant=variant, runtime=runtime, limit=limit, max_mb=max_memory, nodes=list(node or []), top=top,
        timeout=timeout,
    )  # fmt: skip
    if open_:
        from ...analysis import model_explorer

        if not model_explorer.installed():  # before the run, not after it
            raise QuantlabError(
                f"--open: Model Explorer is not installed: {model_explorer.install_hint()}", exit_code=2
            )
    record = measure_diagnose(subject, opts)
    if as_json:
        print_json(record)
    else:
        print_diagnose(record)
    from ...report import render_with_section

    adds = f"`quantlab {'run' if subject.kind == 'demo' else 'analyze'} {model}`"
    render_with_section(out, subject.name, adds)  # "Where the error enters"
    if open_:
        _open(record)


def _open(record: dict) -> None:
    import threading
    import webbrowser

    from ...analysis.model_explorer import running_explorer
    from ...infra.progress import log

    me = record.get("model_explorer") or {}
    if not me.get("overlays"):
        raise QuantlabError(f"--open: {me.get('skipped', 'no overlays were written')}", exit_code=2)
    with running_explorer(Path(me["model_json"]), [Path(p) for p in me["overlays"]]) as url:
        log.info("Model Explorer serves %s on 127.0.0.1 only; Ctrl-C stops it", me["model_json"])
        typer.echo(url)
        webbrowser.open(url)
        threading.Event().wait()  # until Ctrl-C (exit 130); the server stops with this block

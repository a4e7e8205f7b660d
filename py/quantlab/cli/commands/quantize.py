"""`quantlab quantize DEMO|MODEL`: write the tfjs variants (or one --map variant)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from ...demos.registry import ALL_DEMOS, check_demo_name
from ...errors import QuantlabError
from ...infra.progress import console
from ...workspace import locked_folders
from ..guard import cli_errors
from ..options import (
    DataDir,
    DemoArg,
    FormatOverride,
    ModelsDir,
    Verbose,
    check_dirs,
    parse_maps,
)
from ..targets import demos_named, model_only, model_path


@cli_errors
def quantize(
    demos: DemoArg = None,
    models_dir: ModelsDir = Path("models"),
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="Custom mixed precision: DTYPE=PATTERN[,PATTERN...] (repeatable), e.g. "
            "--map 'uint8=*/kernel' --map 'float16=*_BN/*'; DTYPE=* for all remaining weights",
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            help="With --map: the variant folder name (one plain name; not keras, tuned or a variant's) "
            "[default: custom]",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDir = None,
    format_: FormatOverride = None,
    verbose: Verbose = False,
) -> None:
    """Write the float32, float16, uint16 and uint8 tfjs variants of trained models (or, with --map,
    one custom variant; the matching `tensorflowjs_converter` command is printed).

    DEMO may also be your MODEL (any format `analyze` takes): its variants go to
    `MODELS_DIR/NAME/` (NAME: the file or folder name).
    Example: `quantlab quantize web_model/ --map 'uint8=*' --name small`"""
    if name is not None and not map_:  # it names the --map variant: alone it would be ignored
        raise QuantlabError(
            f"--name {name}: names the --map variant; without --map quantize writes the four standard "
            "variants (their folders are float32, float16, uint16, uint8)",
            exit_code=2,
        )
    name = "custom" if name is None else name
    model = model_path(demos)
    if model is not None:
        check_dirs(models_dir=models_dir)
        _quantize_model(model, models_dir, parse_maps(map_), name if map_ else None, format_)
        return
    model_only(format_=format_)
    from ...demos.pipeline import quantize_custom
    from ...workspace import RESERVED, check_name

    check_dirs(models_dir=models_dir, data_dir=data_dir)
    if map_:
        dtype_map = parse_maps(map_)
        if not demos:
            raise QuantlabError("--map needs a DEMO", exit_code=2)
        check_name(name, "--name", RESERVED)
        for demo_name in demos:
            check_demo_name(demo_name)
        with locked_folders(*[Path(models_dir) / d for d in demos]):
            for demo_name in demos:
                cmd = quantize_custom(demo_name, models_dir, name, dtype_map)
                if cmd:  # none for a graph model: the converter cannot re-quantize one
                    console.print("same as: " + shlex.join(cmd), highlight=False, soft_wrap=True)
        return
    chosen = demos_named(demos)
    with locked_folders(*[Path(models_dir) / demo.name for demo in chosen]):
        for demo in chosen:
            demo.quantize(models_dir, data_dir=data_dir)


def _quantize_model(
    model: Path, models_dir: Path, custom: dict | None, custom_name: str | None, format_: str | None
) -> None:
    from ... import workspace
    from ...analysis.analyze import AnalyzeOptions, write_variants
    from ...convert.converter import converter_command
    from ...sources import detect

    source = detect(model, format_)
    name = workspace.model_name(model, set(ALL_DEMOS) | workspace.OUT_FILES)
    if custom_name is not None:
        workspace.check_name(custom_name, "--name", workspace.RESERVED)
    opts = AnalyzeOptions(
        name=name, custom_map=custom, custom_name=custom_name or "custom", models_dir=models_dir
    )
    if custom:  # as for a demo: --map writes the one custom variant (beside its float32 source)
        opts.variants = ["float32"]
    root = Path(models_dir) / name
    workspace.claim_model_root(root, source.model_json or source.path)
    with workspace.locked(root):
        paths, made = write_variants(source, opts, root)
    for folder in paths.values():
        console.print(f"wrote {folder}", highlight=False)
    if custom:
        if made["output_format"] == "layers":
            cmd = converter_command(paths["float32"] / "model.json", paths[opts.custom_name], custom)
            console.print("same as: " + shlex.join(cmd), highlight=False, soft_wrap=True)
        else:
            console.print(
                "graph models cannot be re-quantized by tensorflowjs_converter (tensorflow/tfjs#6154); "
                "this artifact was written with its weight writer (tensorflowjs.write_weights)",
                highlight=False,
            )

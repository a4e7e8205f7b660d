"""`quantlab quantize DEMO|MODEL`: write the tfjs variants (or one --map variant)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ...demos.registry import check_demo_name
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
from ..targets import model_only, model_path, resolve_subject


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
    from ...demos.registry import DEMOS
    from ...workspace import RESERVED, check_name

    model = model_path(demos)
    if model is None:
        model_only(format_=format_)
        if map_ and not demos:
            raise QuantlabError("--map needs a DEMO", exit_code=2)
        targets = [check_demo_name(d) for d in demos] if demos else list(DEMOS)
        check_dirs(models_dir=models_dir, data_dir=data_dir)
    else:
        targets = [str(model)]
        check_dirs(models_dir=models_dir)
    dtype_map = parse_maps(map_)
    subjects = [
        resolve_subject(t, models_dir, None, data_dir=data_dir, format_=format_, takes_name=False)
        for t in targets
    ]
    if map_:
        check_name(name, "--name", RESERVED)
    for subject in subjects:
        subject.claim_models()
    with locked_folders(*[s.root for s in subjects]):
        for subject in subjects:
            for line in subject.quantize(dtype_map, name if map_ else None):
                console.print(line, highlight=False, soft_wrap=True)

"""What a command's DEMO|MODEL argument names: demos, a user's model path, their folders and locks."""

from __future__ import annotations

from pathlib import Path

from ..demos.registry import ALL_DEMOS, get_demo
from ..errors import QuantlabError


def demos_named(names: list[str] | None):
    """The demos named (default: all of them)."""
    from ..demos.registry import DEMOS

    return [get_demo(n) for n in (names or list(DEMOS))]


def model_path(names: list[str] | None) -> Path | None:
    """A user's MODEL given where a DEMO may be: one argument that is not a demo name but a path."""
    from ..demos.registry import DEMOS

    if not names or len(names) != 1 or names[0] in DEMOS:
        return None
    name = names[0]
    # a path, an existing file or folder, or a file name (mnist.h5, model.json): no demo has a suffix
    if "/" in name or Path(name).exists() or Path(name).suffix:
        return Path(name)
    return None


def model_only(**given) -> None:
    """Refuse (exit 2) an option that only means something for a user's MODEL, given with a demo."""
    for key, value in given.items():
        if value is not None:
            flag = "--" + key.rstrip("_").replace("_", "-")
            raise QuantlabError(f"{flag}: only for your MODEL, not a demo", exit_code=2)


def model_name(model: Path, name: str | None) -> str:
    """--name, or the MODEL's file or folder name: one plain name, not a demo's (MODELS/<demo>/,
    OUT/<demo>/ are the demos') nor a file quantlab writes at the top of OUT."""
    from .. import workspace

    return workspace.check_name(
        name or workspace.name_from_path(model), "--name", set(ALL_DEMOS) | workspace.OUT_FILES
    )


def preprocessings() -> tuple[str, ...]:
    from ..demos.datasets.imagenet import PREPROCESSING

    return PREPROCESSING


def resolve_subject(
    target: str,
    models_dir: Path,
    out: Path | None,
    *,
    data_dir: Path | None = None,
    limit: int | None = None,
    name: str | None = None,
    format_: str | None = None,
    inputs=None,
    output_format: str | None = None,
    takes_name: bool = True,
):
    """DEMO|MODEL -> the one subject every command takes: a demo by its name, else a user's model
    detected from the path (its format, its name from --name or the path). The options that only
    mean something for one of them are refused for the other (exit 2). The commands have checked
    --out and --models-dir already (options.check_dirs)."""
    from .. import workspace
    from ..demos.registry import DEMOS

    if target in DEMOS:
        from ..demos.subject import DemoSubject

        model_only(name=name, format_=format_, output_format=output_format)
        if inputs is not None and inputs.path is not None:
            model_only(inputs=inputs.path)
        return DemoSubject(target, models_dir, out, data_dir, limit)
    from ..analysis.subject_model import ModelSubject
    from ..infra.progress import log
    from ..sources import ACCEPTED, detect

    model = Path(target)
    if not model.exists() and len(model.parts) == 1 and not model.suffix:
        from ..errors import ArtifactError

        raise ArtifactError(
            f"{model}: neither a demo ({', '.join(ALL_DEMOS)}) nor a file or folder; MODEL is {ACCEPTED}"
        )
    source = detect(model, format_)
    if takes_name:
        named = model_name(model, name)
    else:  # a command without --name: a MODEL named like a demo is refused, with the way round
        named = workspace.model_name(model, set(ALL_DEMOS) | workspace.OUT_FILES)
    log.info("%s: %s%s", model, source.format, f" ({source.detail})" if source.detail else "")
    return ModelSubject(source, named, models_dir, out, inputs, output_format, given=model)

"""MobileNetV2's weights file (--weights, Keras' file names in the data folders, Keras' download)
and its Keras model, saved as the demo's `prepare` step."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...errors import ArtifactError, QuantlabError
from ...infra.progress import log
from ...workspace import keras_dir
from ..datasets.imagenet import find_image_folder, list_images
from ..datasets.resolver import search_dirs

NAME = "mobilenetv2"


def weights_file_name(alpha: float, size: int, include_top: bool) -> str:
    suffix = "" if include_top else "_no_top"
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{size}{suffix}.h5"


@dataclass(frozen=True)
class WeightsChoice:
    path: Path | None  # None: Keras' own weights='imagenet' download
    mode: str  # "full" or "backbone"
    reason: str


def weights_mode(path: Path) -> str:
    """'full' when the .h5 holds the classifier layer ('predictions'), else 'backbone'."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            group = f["model_weights"] if "model_weights" in f else f
            names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["layer_names"]]
    except (OSError, KeyError) as e:
        raise ArtifactError(f"{path}: not a readable Keras HDF5 weights file ({e})") from e
    return "full" if "predictions" in names else "backbone"


def resolve_weights(
    weights: Path | None, data_dir: Path | None, alpha: float = 1.0, size: int = 224
) -> WeightsChoice:
    """--weights, then Keras' file names under the data folders and ~/.keras/models, then
    Keras' own download. A full (classifier) file is preferred to a no-top one anywhere."""
    if weights:
        if not Path(weights).is_file():
            raise ArtifactError(f"{weights}: weights file not found")
        return WeightsChoice(Path(weights), weights_mode(Path(weights)), f"--weights {weights}")
    folders = [(how, d / "mobilenet_v2") for how, d in search_dirs(data_dir)]
    folders.append(("Keras cache", Path.home() / ".keras" / "models"))
    for include_top in (True, False):
        name = weights_file_name(alpha, size, include_top)
        for how, folder in folders:
            if (folder / name).is_file():
                mode = "full" if include_top else "backbone"
                why = (
                    f"found {name} in {how} ({folder})"
                    if include_top
                    else (
                        f"found only the no-top file {name} in {how} ({folder}): no classifier "
                        f"weights, so class accuracy cannot be measured; feature fidelity instead"
                    )
                )
                return WeightsChoice(folder / name, mode, why)
    return WeightsChoice(None, "full", "no local weights file; using Keras' weights='imagenet' download")


def build_mobilenet(choice: WeightsChoice, alpha: float = 1.0, size: int = 224):
    from ...infra.tfcompat import keras

    k = keras()
    include_top = choice.mode == "full"
    try:
        return k.applications.MobileNetV2(
            input_shape=(size, size, 3),
            alpha=alpha,
            include_top=include_top,
            weights=str(choice.path) if choice.path else "imagenet",
            pooling=None if include_top else "avg",
        )
    except Exception as e:  # Keras raises ValueError/OSError/… for a mismatched or broken file
        what = choice.path or "Keras' imagenet download"
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        if choice.path is None:
            expected = ", ".join(str(d / "mobilenet_v2") for _, d in search_dirs(None))
            raise QuantlabError(
                f"MobileNetV2 weights: download failed ({first}); put "
                f"{weights_file_name(alpha, size, True)} (or the _no_top file) in one of {expected} "
                f"or ~/.keras/models, or pass --weights"
            ) from e
        raise ArtifactError(
            f"{what}: does not fit MobileNetV2(alpha={alpha}, input {size}x{size}, "
            f"include_top={include_top}): {first}"
        ) from e


def prepare_mobilenet(
    models_dir: Path,
    data_dir: Path | None,
    weights: Path | None = None,
    alpha: float = 1.0,
    size: int = 224,
    name: str = NAME,
) -> dict:
    """The demo's `prepare` step: Keras' pretrained model, saved to MODELS/<name>/keras/ with
    a record of which weights file and mode (full or backbone) it came from."""
    from ..train import TrainResult, save_trained

    list_images(find_image_folder(data_dir))  # images first: cheap to check, no download
    choice = resolve_weights(weights, data_dir, alpha, size)
    log.info("MobileNetV2 %s mode: %s", choice.mode, choice.reason)
    model = build_mobilenet(choice, alpha, size)
    record = {
        "demo": name,
        "mode": choice.mode,
        "mode_reason": choice.reason,
        "weights": str(choice.path) if choice.path else "keras:imagenet",
        "alpha": alpha,
        "image_size": size,
        "profile": "pretrained",
    }
    save_trained(TrainResult(model, record), keras_dir(models_dir, name))
    return record

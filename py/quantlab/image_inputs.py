"""Images as model inputs: a folder of images (directly, or in one subfolder per class, the labels
then the sorted subfolder index), decoded to RGB and resized as a model's input takes them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import DataError, QuantlabError
from .input_spec import InputOptions, InputSpec

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"}


def list_image_folder(folder: Path) -> tuple[list[Path], list[int] | None, list[str] | None]:
    """Images directly in `folder`, or in class subfolders (labels = sorted subfolder index)."""
    direct = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    subdirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if direct or not subdirs:
        return direct, None, None
    files, labels, names = [], [], []
    for d in subdirs:
        imgs = sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if imgs:
            names.append(d.name)
            files += imgs
            labels += [len(names) - 1] * len(imgs)
    return files, labels, names


def decode_image(path: Path, size: int) -> np.ndarray:
    """RGB uint8, bilinear-resized to size x size (greyscale and CMYK converted)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            im = im.resize((size, size), Image.BILINEAR)
            return np.asarray(im, dtype=np.uint8)  # PIL resizes RGB images in uint8
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DataError(f"{path}: not a decodable image ({e})") from e


def load_images(folder: Path, spec: InputSpec, opts: InputOptions) -> tuple[np.ndarray, list | None, list]:
    from .infra.progress import log, progress

    files, labels, names = list_image_folder(folder)
    if opts.limit:
        files, labels = files[: opts.limit], labels[: opts.limit] if labels else None
    if not files:
        raise DataError(f"{folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in the folder")
    dims = spec.shape[1:]
    if len(dims) != 3 or dims[-1] not in (3, None):
        raise DataError(f"{folder}: images need an input of shape [N, H, W, 3]; {spec.name} is {spec.shape}")
    size = opts.image_size or dims[0]
    if size is None:
        raise QuantlabError(f"{spec.name} has a dynamic image size: pass --image-size", exit_code=2)
    out = np.empty((len(files), size, size, 3), np.uint8)
    keep, skipped = [], []
    with progress() as bar:
        task = bar.add_task(f"decoding {len(files)} images to {size}x{size}", total=len(files), info="")
        for i, f in enumerate(files):
            try:
                out[len(keep)] = decode_image(f, size)
                keep.append(i)
            except DataError as e:
                log.warning("skipped: %s", e)
                skipped.append(f.name)
            bar.advance(task)
    if not keep:
        raise DataError(f"{folder}: none of the {len(files)} images could be decoded")
    kept_labels = [labels[i] for i in keep] if labels else None
    return out[: len(keep)], kept_labels, [names, skipped]

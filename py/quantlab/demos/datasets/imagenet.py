"""The 1000-image ImageNet sample (file names `<wnid>_<id>_<label words>.jpg`) and the two
class-name files; images are decoded and resized once, then streamed in batches."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import DataError
from ...image_inputs import decode_image
from ...infra.progress import log
from .resolver import DataFile, resolve, search_dirs

SUBDIR = "imagenet-samples"
_TFJS_EXAMPLES = "https://raw.githubusercontent.com/tensorflow/tfjs-examples/master/"
CLASSES_JS = DataFile(
    SUBDIR,
    "imagenet_classes.js",
    "c323c6fe215687740e26cf3f6a731c5c685aef60914b4094dd7bd0b91b3b9510",
    _TFJS_EXAMPLES + "mobilenet/imagenet_classes.js",
)
CLASS_INDEX = DataFile(
    SUBDIR,
    "imagenet_class_index.json",
    "a1e7a966a1f601d39e4b43e119b3e7dd4a2ad3ea08cf69847cbaf021013767bc",
    "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json",
)
_NAME = re.compile(r"^(n\d{8})_(\d+)_(.+)\.jpe?g$", re.IGNORECASE)
PREPROCESSING = ("keras", "seed")


@dataclass(frozen=True)
class ImageSample:
    path: Path
    wnid: str
    label_token: str  # third `_` token of the name: the seed's scoring key


def find_image_folder(data_dir: Path | str | None = None) -> Path:
    for _, folder in search_dirs(data_dir):
        if (folder / SUBDIR).is_dir():
            return folder / SUBDIR
    where = ", ".join(f"{how} ({folder})" for how, folder in search_dirs(data_dir))
    raise DataError(
        f"image folder {SUBDIR}/ not found in {where}; put the ImageNet sample images "
        f"(<wnid>_<id>_<label>.jpg) there and pass --data-dir or set $QUANTLAB_DATA"
    )


def list_images(folder: Path) -> tuple[list[ImageSample], list[str]]:
    """Samples sorted by name, plus the names of files skipped because they are not images."""
    samples, skipped = [], []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in (".jpg", ".jpeg"):
            continue
        m = _NAME.match(path.name)
        if not m:
            log.warning("%s: skipped, name is not <wnid>_<id>_<label>.jpg", path)
            skipped.append(path.name)
            continue
        samples.append(ImageSample(path, m.group(1), m.group(3).split("_")[0]))
    if not samples:
        raise DataError(f"{folder}: no <wnid>_<id>_<label>.jpg images in the image folder")
    return samples, skipped


def preprocess(pixels: np.ndarray, mode: str) -> np.ndarray:
    """`keras`: [-1, 1], what MobileNetV2 expects; `seed`: pixels / 255, what the seed did."""
    if mode == "keras":
        return pixels / 127.5 - 1.0
    if mode == "seed":
        return pixels / 255.0
    raise DataError(f"unknown preprocessing {mode!r}; valid: {', '.join(PREPROCESSING)}")


class DecodedImages:
    """All images decoded once into a uint8 memmap on disk (150 MB for 1000 x 224 x 224 x 3;
    as float32 it would be 600 MB): batches are converted to float32 one at a time.
    Unreadable files are skipped with a warning and counted."""

    def __init__(self, samples: list[ImageSample], size: int, cache_file: Path, limit: int | None = None):
        from ...infra.progress import progress

        todo = samples[:limit] if limit else samples
        self.size = size
        self.path = cache_file
        store = np.lib.format.open_memmap(cache_file, "w+", np.uint8, (len(todo), size, size, 3))
        self.samples: list[ImageSample] = []
        self.skipped: list[str] = []
        with progress() as bar:
            task = bar.add_task(f"decoding images to {size}x{size}", total=len(todo), info="")
            for s in todo:
                try:
                    store[len(self.samples)] = decode_image(s.path, size)
                    self.samples.append(s)
                except DataError as e:
                    log.warning("skipped: %s", e)
                    self.skipped.append(s.path.name)
                bar.advance(task)
        store.flush()
        del store
        self._data = np.load(cache_file, mmap_mode="r")

    def __len__(self) -> int:
        return len(self.samples)

    def batches(self, batch: int, mode: str) -> Iterator[np.ndarray]:
        for start in range(0, len(self.samples), batch):
            stop = min(len(self.samples), start + batch)
            yield preprocess(np.asarray(self._data[start:stop], dtype=np.float32), mode).astype(np.float32)


def parse_classes_js(path: Path) -> list[str]:
    """imagenet_classes.js (tfjs-examples): `{0: 'tench, Tinca tinca', 1: 'a' + 'b', ...}`."""
    text = path.read_text(encoding="utf-8")
    literal = r"'((?:[^'\\]|\\.)*)'"
    names: dict[int, str] = {}
    for m in re.finditer(r"(\d+)\s*:\s*((?:" + literal + r"\s*\+?\s*)+)", text):
        parts = re.findall(literal, m.group(2))
        names[int(m.group(1))] = "".join(p.replace("\\'", "'") for p in parts)
    if sorted(names) != list(range(1000)):
        raise DataError(f"{path}: expected class names 0..999, found {len(names)}")
    return [names[i] for i in range(1000)]


def class_files(data_dir: Path | str | None = None) -> tuple[list[str], list[str]]:
    """(class-name strings from imagenet_classes.js, wnids from imagenet_class_index.json)."""
    js_path, index_path = (resolve(spec, data_dir) for spec in (CLASSES_JS, CLASS_INDEX))
    names = parse_classes_js(js_path)
    try:
        index = json.loads(index_path.read_text())
        wnids = [index[str(i)][0] for i in range(1000)]
    except (json.JSONDecodeError, KeyError, IndexError) as e:
        raise DataError(f"{index_path}: not Keras' imagenet_class_index.json ({e!r})") from e
    return names, wnids

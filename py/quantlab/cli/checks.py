"""Checks of command-line values, made before any work: one line naming the option, exit 2."""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import QuantlabError

# numpy's and TensorFlow's seeds: 0 <= seed < 2**32.
SEED_MAX = 2**32 - 1


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_positive(value: float, option: str) -> None:
    """Numbers from the command line: finite and > 0, else exit 2 naming the option."""
    if not _is_number(value) or value <= 0:
        raise QuantlabError(f"{option} {value}: must be a positive number", exit_code=2)


def check_non_negative(value: float, option: str, at_most: float | None = None, why: str = "") -> None:
    """Finite and >= 0 (and <= `at_most` when given, `why` saying when), else exit 2 naming the
    option."""
    if not _is_number(value) or value < 0:
        raise QuantlabError(f"{option} {value}: must be a finite number >= 0", exit_code=2)
    if at_most is not None and value > at_most:
        raise QuantlabError(f"{option} {value}: must be between 0 and {at_most:g}{why}", exit_code=2)


def check_limit(value: int | None, option: str = "--limit", zero_means: str | None = "all") -> int | None:
    """An example count: None (the command's default), a positive integer, or 0 when the command
    gives it a meaning (`zero_means`, e.g. "all"). Returns None for 0 ("no limit")."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (value == 0 and not zero_means):
        allowed = "a positive integer" + (f" (0 = {zero_means})" if zero_means else "")
        raise QuantlabError(f"{option} {value}: must be {allowed}", exit_code=2)
    return None if value == 0 else value


def check_seed(value: int, option: str = "--seed") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SEED_MAX:
        raise QuantlabError(f"{option} {value}: must be an integer from 0 to {SEED_MAX}", exit_code=2)
    return value


def check_path(path: Path, option: str) -> Path:
    """A path that can exist at all: no component longer than 255 bytes (else exit 2)."""
    try:
        too_long = any(len(part.encode()) > 255 for part in Path(path).parts)
    except UnicodeEncodeError as e:
        raise QuantlabError(f"{option} {path}: not a usable path ({e})", exit_code=2) from None
    if too_long:
        raise QuantlabError(f"{option} {path}: a path component is longer than 255 bytes", exit_code=2)
    return Path(path)


def check_choice(value: str, valid, option: str) -> str:
    """One of `valid`, else exit 2 listing them."""
    valid = list(valid)
    if value not in valid:
        raise QuantlabError(f"{option} {value!r}: valid: {', '.join(valid)}", exit_code=2)
    return value


def check_backend(value: str, option: str = "--backend", also=()) -> str:
    """A tfjs-node evaluator backend (js/protocol.json), or one of `also` (e.g. auto)."""
    from ..runtimes.protocol import protocol

    return check_choice(value, [*protocol()["backends"], *also], option)


def check_demo_litert(names: list[str], timeout: float) -> str:
    """--litert with demos: the trained demos only (the MobileNetV2 demos score every sample image,
    leaving none to calibrate on: analyze their Keras model with --inputs instead); LiteRT.js and
    Chromium there before any work. The LiteRT.js runtime name."""
    from ..analysis.litert_run import check_litert_runtime
    from ..demos.registry import is_image_demo

    images = [n for n in names if is_image_demo(n)]
    if images:
        raise QuantlabError(
            f"--litert: {', '.join(images)} scores every sample image and has none left to calibrate "
            f"full int8 on; run `quantlab analyze MODELS/{images[0]}/keras/model.h5 --inputs IMAGES --scale "
            "-1,1 --litert` (calibration held out of --inputs) instead",
            exit_code=2,
        )
    check_litert_runtime("browser-litert-wasm", timeout)
    return "browser-litert-wasm"

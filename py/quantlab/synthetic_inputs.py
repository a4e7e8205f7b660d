"""Seeded synthetic inputs from a model's signature, when the user gives none: shapes (dynamic
image sides defaulted, other dynamic dims named), natural value ranges per dtype, a size cap."""

from __future__ import annotations

import math

import numpy as np

from .errors import QuantlabError
from .input_checks import gib, max_input_bytes
from .input_spec import InputOptions, InputSpec

# A dynamic height/width of an image-like input ([N, H, W, 1|3|4]) gets this size when
# --input-shape does not give one: detectors such as faceboxes take any size; a warning says so.
DEFAULT_IMAGE_SIDE = 256


def is_image_like(shape: list[int | None]) -> bool:
    return len(shape) == 4 and shape[-1] in (1, 3, 4)


def natural_range(spec: InputSpec, given: tuple[float, float] | None) -> tuple[float, float]:
    """--input-range, else what the input's dtype and shape suggest: 0-255 for integer images
    (uint8 pixels as most vision models ship them), 0-10 for other integers, [0, 1] for floats."""
    if given is not None:
        return given
    if spec.is_int:
        return (0, 255) if is_image_like(spec.shape) else (0, 10)
    return (0.0, 1.0)


def synthetic_dims(spec: InputSpec, opts: InputOptions) -> tuple[list[int], bool]:
    """Per-example dims of a synthetic input (--input-shape, else the model's), and whether a
    dynamic image side was defaulted. Other dynamic dims: one line naming the option."""
    dims = list(opts.input_shapes.get(spec.name) or opts.input_shapes.get(spec.name.split(":")[0]) or [])
    if dims:
        return (dims[1:] if len(dims) == len(spec.shape) else dims), False
    dims = list(spec.shape[1:])
    defaulted = False
    if is_image_like(spec.shape):
        for k in (0, 1):
            if dims[k] is None or dims[k] < 0:
                dims[k], defaulted = DEFAULT_IMAGE_SIDE, True
    if any(d is None or d < 0 for d in dims):
        raise QuantlabError(
            f"input {spec.name} has dynamic dimensions {spec.shape}: give them with "
            f"--input-shape {spec.name}:{','.join('N' if d is None else str(d) for d in spec.shape)}",
            exit_code=2,
        )
    return dims, defaulted


def check_shape_names(specs: list[InputSpec], opts: InputOptions) -> None:
    """--input-shape NAME: must name one of the model's inputs (exit 2 listing them)."""
    known = {s.name for s in specs} | {s.name.split(":")[0] for s in specs}
    for name in opts.input_shapes:
        if name not in known:
            raise QuantlabError(
                f"--input-shape {name}: the model has no input of that name; its inputs: "
                f"{', '.join(s.name for s in specs)}",
                exit_code=2,
            )


def synthetic_arrays(specs: list[InputSpec], opts: InputOptions) -> tuple[dict[str, np.ndarray], dict]:
    """Seeded uniform arrays for every input, and per input its range and whether its image
    size was defaulted (for the record)."""
    from .infra.progress import log

    rng = np.random.default_rng(opts.seed)
    arrays, ranges, defaulted = {}, {}, []
    for spec in specs:
        dims, guessed = synthetic_dims(spec, opts)
        if guessed:
            defaulted.append(spec.name)
            log.warning(
                "input %s has a dynamic image size %s: synthetic images are %dx%d (--input-shape %s:N,H,W,C "
                "to choose)", spec.name, spec.shape, dims[0], dims[1], spec.name,
            )  # fmt: skip
        shape = (opts.samples, *dims)
        lo, hi = natural_range(spec, opts.input_range)
        if spec.is_int:
            arrays[spec.name] = rng.integers(int(lo), int(hi), size=shape, endpoint=True).astype(np.int32)
        else:
            arrays[spec.name] = rng.uniform(lo, hi, size=shape).astype(np.float32)
        ranges[spec.name] = [lo, hi]
    return arrays, {"ranges": ranges, "image_size_defaulted": defaulted}


def check_synthetic_size(specs: list[InputSpec], opts: InputOptions) -> None:
    """--samples x the inputs' sizes against the cap, before any array is made (exit 2)."""
    total = 0
    for spec in specs:
        dims, _ = synthetic_dims(spec, opts)
        total += opts.samples * math.prod(dims) * 4
    if total > max_input_bytes():
        raise QuantlabError(
            f"--samples {opts.samples}"
            + (f" with --input-shape {', '.join(opts.input_shapes)}" if opts.input_shapes else "")
            + f": synthetic inputs of {gib(total)} exceed the {gib(max_input_bytes())} cap "
            "($QUANTLAB_MAX_INPUT_BYTES); use fewer samples or smaller shapes",
            exit_code=2,
        )

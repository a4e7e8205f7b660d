"""A model that one tfjs backend cannot run: which op it lacks, and which runtime runs it instead.

tfjs backends do not implement the same kernels (node-wasm has no BatchMatMul on non-float32
tensors; facemesh-attention needs it). The error names the op; another runtime is proposed only
after it really ran the model on this machine (checked, not guessed)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from ..errors import EvaluatorError, QuantlabError
from ..infra.progress import log

# How tfjs says a kernel is missing (tfjs-core's registry, and the backends' own refusals).
_MISSING = (
    re.compile(r"Kernel '([A-Za-z][\w.]*)' not registered"),
    re.compile(r"\b([A-Z][A-Za-z0-9]+) for [^.]*not (?:yet )?supported"),
    re.compile(r"'([A-Z][A-Za-z0-9]+)' is not (?:yet )?(?:supported|implemented)"),
    re.compile(r"\b([A-Z][A-Za-z0-9]+)[^.]{0,80}\bnot (?:yet )?(?:supported|implemented)"),
)
# Tried in this order when the chosen one lacks an op: tfjs-node (TensorFlow's kernels) is the
# most complete, the cpu backend the most available.
ALTERNATIVES = ("node-tensorflow", "node-cpu", "node-wasm")


def missing_op(message: str) -> str | None:
    """The op a tfjs error says a backend lacks, or None when the error is something else."""
    for pattern in _MISSING:
        m = pattern.search(message)
        if m:
            return m.group(1)
    return None


class MissingOp(EvaluatorError):
    """A runtime lacks an op the model uses (exit 5); `op` and `alternative` (a runtime that ran
    the model here, or None) say what to do."""

    def __init__(self, message: str, op: str, runtime: str, alternative: str | None):
        super().__init__(message)
        self.op, self.runtime, self.alternative = op, runtime, alternative


def find_alternative(runtime: str, runs_on: Callable[[str], bool], unavailable=()) -> str | None:
    """The first of ALTERNATIVES (not `runtime`) on which `runs_on(name)` succeeds."""
    for name in ALTERNATIVES:
        if name == runtime or name in unavailable:
            continue
        try:
            if runs_on(name):
                return name
        except QuantlabError as e:  # unavailable here (tfjs-node not built) or fails too
            log.debug("%s cannot run the model either: %s", name, str(e)[:200])
    return None


def missing_op_error(
    error: EvaluatorError, model_json: Path, runtime: str, runs_on: Callable[[str], bool]
) -> MissingOp | None:
    """A MissingOp naming the op and a runtime that ran the model (or saying none did), or
    None when `error` is not about a missing op."""
    op = missing_op(str(error))
    if op is None:
        return None
    alternative = find_alternative(runtime, runs_on)
    if alternative:
        hint = f"{alternative} runs it (checked here): --runtime {alternative}"
    else:
        hint = f"no other tfjs Node runtime here ran it either ({', '.join(ALTERNATIVES)})"
    return MissingOp(f"{model_json}: {runtime} has no kernel for op {op}; {hint}", op, runtime, alternative)

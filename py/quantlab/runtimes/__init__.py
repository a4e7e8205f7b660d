"""Runtimes behind one interface (base.Runtime): Keras in-process, tfjs in Node."""

from .base import LoadedModel, PredictTimings, Runtime

__all__ = ["LoadedModel", "PredictTimings", "Runtime", "make_runtime"]


def make_runtime(name: str, timeout: float | None = None) -> Runtime:
    """'keras', 'node-wasm', 'node-cpu' or 'node-tensorflow'."""
    from ..errors import QuantlabError

    if name == "keras":
        from .keras import KerasRuntime

        return KerasRuntime()
    if name.startswith("node-"):
        from .node import DEFAULT_TIMEOUT_S, TfjsNodeRuntime

        return TfjsNodeRuntime(name.removeprefix("node-"), timeout=timeout or DEFAULT_TIMEOUT_S)
    raise QuantlabError(
        f"unknown runtime {name!r}; valid: keras, node-wasm, node-cpu, node-tensorflow", exit_code=2
    )

"""Runtimes behind one interface (base.Runtime): Keras in-process, tfjs in Node."""

from .base import LoadedModel, PredictTimings, Runtime
from .registry import RUNTIMES

__all__ = ["RUNTIMES", "LoadedModel", "PredictTimings", "Runtime", "make_runtime"]


def make_runtime(name: str, timeout: float | None = None) -> Runtime:
    """One of RUNTIMES; tfjs runtimes start their process or browser here."""
    from ..errors import QuantlabError

    if name == "keras":
        from .keras import KerasRuntime

        return KerasRuntime()
    if name.startswith("browser-"):
        from .browser import BrowserRuntime

        return BrowserRuntime(name.removeprefix("browser-"), timeout=timeout or 600.0)
    if name.startswith("node-"):
        from .node import TfjsNodeRuntime
        from .node_evaluator import DEFAULT_TIMEOUT_S

        return TfjsNodeRuntime(name.removeprefix("node-"), timeout=timeout or DEFAULT_TIMEOUT_S)
    raise QuantlabError(f"unknown runtime {name!r}; valid: {', '.join(RUNTIMES)}", exit_code=2)

"""--executor: the choice between the evaluator pools, a LocalPool (quantlab.analysis.pool) or a
RayPool (quantlab.analysis.pool_ray); neither imports this module."""

from __future__ import annotations

from ..errors import QuantlabError
from .pool import LocalPool

EXECUTORS = ("local", "ray")


def make_pool(
    runtime_name: str,
    workers: int | None = None,
    timeout: float | None = None,
    executor: str = "local",
    ray_address: str | None = None,
):
    """A LocalPool, or (executor "ray") a RayPool on a local or existing Ray cluster."""
    if executor == "local":
        if ray_address:
            raise QuantlabError("--ray-address needs --executor ray", exit_code=2)
        return LocalPool(runtime_name, workers, timeout)
    if executor == "ray":
        from .pool_ray import RayPool

        return RayPool(runtime_name, workers, timeout, ray_address)
    raise QuantlabError(f"--executor {executor!r}: valid: {', '.join(EXECUTORS)}", exit_code=2)

"""The Ray executor on a local Ray instance with 2 CPUs: the same results as the local pool.

Ray is an optional extra (`pip install 'quantlab[ray]'`; `make test` installs it). These tests
fail, with the command that installs it, when it is missing: they are never skipped silently."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from quantlab.analysis.evaluate import ArrayExamples, measure_variants
from quantlab.analysis.pool import LocalPool

VARIANTS = ("float32", "float16", "uint16", "uint8")


@pytest.fixture(scope="module")
def ray_pool():
    try:
        import ray  # noqa: F401
    except ImportError:
        pytest.fail("Ray is not installed: pip install 'quantlab[ray]' (or make test, which installs it)")
    from quantlab.analysis.pool_ray import RayPool

    pool = RayPool("node-wasm", workers=2)
    try:
        yield pool
    finally:
        pool.close()


def test_ray_actors_give_the_local_pools_outputs(ray_pool, small_convnet_dir: Path):
    x = np.random.default_rng(11).random((600, 12, 12, 1), dtype=np.float32)
    paths = {v: small_convnet_dir / v for v in VARIANTS}
    with LocalPool("node-wasm", workers=2) as local:
        want = measure_variants(local, paths, ArrayExamples({"x": x}), "local", batch_size=100)
    got = measure_variants(ray_pool, paths, ArrayExamples({"x": x}), "ray", batch_size=100)
    assert ray_pool.ran == 2 and ray_pool.describe()["executor"] == "ray"
    for v in VARIANTS:
        assert np.array_equal(got[v].outputs[0], want[v].outputs[0]), v
        assert got[v].timings.examples == 600


def test_a_ray_job_whose_worker_dies_twice_is_one_error(ray_pool, small_convnet_dir: Path, tmp_path):
    """Actors whose evaluators die on predict (the evaluator's QUANTLAB_TEST_CRASH_MODEL hook,
    set in the actors' environment): the job is retried once on a fresh actor, then named."""
    import shutil

    import ray

    from quantlab.analysis.jobs import Job, PoolStats
    from quantlab.analysis.pool_ray import RayPool, _Evaluator
    from quantlab.errors import EvaluatorError

    marker = tmp_path / "crash-me"
    shutil.copytree(small_convnet_dir / "uint8", marker)
    ray_pool.abort()  # its two actors hold both CPUs of the local instance
    pool = RayPool.__new__(RayPool)  # the running Ray instance, actors with the hook set
    pool.__dict__.update(ray_pool.__dict__)
    pool.stats, pool._actors, pool._we_started = PoolStats(), [], False
    pool._actor_cls = ray.remote(num_cpus=1, max_restarts=0)(_Evaluator).options(
        runtime_env={"env_vars": {"QUANTLAB_TEST_CRASH_MODEL": "crash-me"}}
    )
    try:
        with pytest.raises(EvaluatorError) as info:
            pool.map_jobs([Job("crashy", marker, np.zeros((4, 12, 12, 1), np.float32), 4)])
    finally:
        pool.close()
    assert str(info.value).startswith("job crashy shard 1/1") and "failed twice" in str(info.value)
    assert pool.stats.retries == 1

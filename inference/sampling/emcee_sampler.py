"""emcee's affine-invariant ensemble on the targets of :mod:`inference.sampling.nuts` (docs/ARCHITECTURE.md
4.4)::

    run_emcee(target, *, model_args=(), model_kwargs=None, init=None, walkers=32, steps=2000,
              burn=500, thin=1, init_scale=1e-2, seed=0, quiet=False) -> SamplerResult
    model_log_density(model, model_args=(), model_kwargs=None, init=None, seed=0) -> (LogDensity, start)

The target is a numpyro model or a :class:`~inference.sampling.nuts.LogDensity`, as for NUTS, so the
gradient-free baseline samples exactly the density NUTS does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from common.errors import InputError
from inference.sampling.nuts import LogDensity, Params, SamplerResult, aot_compile


def model_log_density(model: Callable[..., Any], model_args: tuple[Any, ...] = (),
                      model_kwargs: Mapping[str, Any] | None = None, init: Params | None = None,
                      seed: int = 0) -> tuple[LogDensity, Params]:
    """A numpyro model as a :class:`LogDensity` in unconstrained space, and an unconstrained start point.

    init: constrained starting values of some sites (the others start uniformly in (-2, 2) unconstrained).
    """
    from numpyro.infer import init_to_uniform, init_to_value
    from numpyro.infer.util import initialize_model

    strategy = init_to_value(values=dict(init)) if init else init_to_uniform
    info, potential, postprocess, _ = initialize_model(
        jax.random.PRNGKey(seed), model, init_strategy=strategy, model_args=model_args,
        model_kwargs=dict(model_kwargs or {}), dynamic_args=False)
    return LogDensity(fn=lambda p: -potential(p), constrain=postprocess), info.z


def run_emcee(
    target: Any,
    *,
    model_args: tuple[Any, ...] = (),
    model_kwargs: Mapping[str, Any] | None = None,
    init: Params | None = None,
    walkers: int = 32,
    steps: int = 2000,
    burn: int = 500,
    thin: int = 1,
    init_scale: float = 1e-2,
    seed: int = 0,
    quiet: bool = False,
) -> SamplerResult:
    """Sample `target` (numpyro model or :class:`LogDensity`) with emcee's affine-invariant ensemble.

    The log-density is jitted and vmapped over walkers (emcee's vectorize=True). Walkers start in a
    Gaussian ball of relative width `init_scale` around `init` (for a model: constrained values of some
    sites, as in :func:`run_nuts`; for a LogDensity: the unconstrained point, required). Each walker is
    reported as a chain; the first `burn` steps are dropped, then every `thin`-th step kept.
    """
    import emcee
    from jax.flatten_util import ravel_pytree

    if isinstance(target, LogDensity):
        if init is None:
            raise InputError("emcee: init: a LogDensity target needs a starting point")
        center = jax.tree.map(jnp.asarray, dict(init))
    else:
        target, center = model_log_density(target, model_args, model_kwargs, init, seed)
    if burn >= steps or steps < 1:
        raise InputError(f"emcee: steps, burn: expected 0 <= burn < steps, got {steps}, {burn}")
    flat0, unravel = ravel_pytree(center)
    ndim = flat0.size
    if walkers < 2 * ndim or walkers % 2:
        raise InputError(f"emcee: walkers: expected an even number >= {2 * ndim}, got {walkers}")

    batched = jax.vmap(lambda x: target.fn(unravel(x)))
    programs: dict[tuple[int, ...], Callable[..., Any]] = {}
    counters = {"compile": 0.0, "evals": 0}

    def log_prob(x: np.ndarray) -> np.ndarray:
        xs = jnp.asarray(x, dtype=flat0.dtype)
        if xs.shape not in programs:
            programs[xs.shape], seconds = aot_compile(batched, xs)
            counters["compile"] += seconds
        counters["evals"] += xs.shape[0]
        lp = np.asarray(programs[xs.shape](xs), dtype=np.float64)
        return np.where(np.isfinite(lp), lp, -np.inf)

    rng = np.random.default_rng(seed)
    scale = init_scale * (np.abs(np.asarray(flat0)) + 1.0)
    start_walkers = np.asarray(flat0)[None, :] + scale * rng.standard_normal((walkers, ndim))
    log_prob(start_walkers)  # compiles both programs before the clock starts
    log_prob(start_walkers[: walkers // 2])
    counters["evals"] = 0
    sampler = emcee.EnsembleSampler(walkers, ndim, log_prob, vectorize=True)
    state = emcee.State(start_walkers, random_state=np.random.RandomState(seed).get_state())
    start = time.perf_counter()
    sampler.run_mcmc(state, steps, progress=not quiet)
    wall = time.perf_counter() - start
    chain = sampler.get_chain(discard=burn, thin=thin).swapaxes(0, 1)  # (walkers, draws, ndim)
    lp = sampler.get_log_prob(discard=burn, thin=thin).T
    params = jax.vmap(jax.vmap(unravel))(jnp.asarray(chain, dtype=flat0.dtype))
    if target.constrain is not None:
        params = jax.vmap(jax.vmap(target.constrain))(params)
    settings = {"sampler": "emcee", "walkers": walkers, "steps": steps, "burn": burn, "thin": thin,
                "init_scale": init_scale, "seed": seed, "moves": "stretch", "vectorize": True,
                "acceptance_fraction": float(np.mean(sampler.acceptance_fraction)), "batch": None}
    return SamplerResult(
        sampler="emcee",
        samples={k: np.asarray(v) for k, v in params.items()},
        sample_stats={"lp": lp, "diverging": np.zeros(lp.shape, bool), "num_steps": np.ones(lp.shape, int)},
        wall_time_s=wall,
        compile_time_s=counters["compile"],
        n_gradient_evals=0,
        n_density_evals=counters["evals"],
        settings=settings,
    )

"""NUTS (numpyro) for every fit, and the targets and results its emcee sibling shares (docs/ARCHITECTURE.md
4.4).

A target is either a numpyro model (a function of `model_args`/`model_kwargs` with `numpyro.sample`
sites) or a :class:`LogDensity` (a JAX log-density of a dict of unconstrained parameters); a run returns
a :class:`SamplerResult`::

    run_nuts(target, settings=NutsSettings(), *, model_args=(), model_kwargs=None, seed=0, init=None,
             batch=False, quiet=False, **budget) -> SamplerResult

emcee on the same targets: :func:`inference.sampling.emcee_sampler.run_emcee` (the gradient-free baseline).

NUTS runs its chains in one XLA program, either vectorised (`jax.vmap`, numpyro's
chain_method="vectorized": every iteration lasts as long as the longest trajectory among the chains) or
one after the other (`jax.lax.map`, "sequential": each chain at its own trajectory length). The sampler
is our own loop over numpyro's NUTS kernel: one program for the initialisation and one for a chunk of
iterations are compiled ahead of time (their compile time is measured apart from the run), and the chunks
run under a progress bar. The data enter as arguments, never as closures, so `batch=True` fits many
datasets (model_args with a leading batch axis, e.g. Poisson toys) in one compiled program; compiled
programs are kept per target, settings and argument shapes, so a second fit of new data of the same shapes
compiles nothing. Gradient counts cover warm-up and sampling (not the few evaluations of the initial
step-size search).

Precision policy: nothing here turns on `jax_enable_x64`; float32 is the default for every fit, and the
likelihoods are written to be accurate in it. A caller that needs float64 enables it before building the
model and the samplers follow the dtype of the parameters.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from common.errors import InputError, check_seed
from common.progress import progress
from inference.sampling.settings import NutsSettings

Params = dict[str, Any]


class LogDensity(NamedTuple):
    """A target given directly: `fn(params) -> log density` (up to a constant) of unconstrained params.

    `constrain` maps unconstrained params to the reported ones (e.g. `exp` of a log-scale parameter);
    None reports them as they are.
    """

    fn: Callable[[Params], Any]
    constrain: Callable[[Params], Params] | None = None


@dataclass
class SamplerResult:
    """Draws and bookkeeping of one sampler run.

    samples: parameter name -> array (chains, draws, *shape); with `batch` datasets (batch, chains, draws,
    *shape). sample_stats: name -> (chains, draws) (NUTS: diverging, num_steps, accept_prob, energy,
    step_size; emcee: lp, diverging all False, num_steps 1). wall_time_s: running time without
    compilation; compile_time_s: ahead-of-time compilation of the sampler programs. n_gradient_evals: log-
    density gradients (NUTS leapfrog steps, warm-up included; 0 for emcee); n_density_evals: log-density
    evaluations. settings: what the sampler was asked to do. sampler_samples: the sampler's own draws when
    `samples` were moved after sampling (the IA fit's calibration shift), else None.
    """

    sampler: str
    samples: dict[str, np.ndarray]
    sample_stats: dict[str, np.ndarray]
    wall_time_s: float
    compile_time_s: float
    n_gradient_evals: int
    n_density_evals: int
    settings: dict[str, Any] = field(default_factory=dict)
    sampler_samples: dict[str, np.ndarray] | None = None

    @property
    def batch(self) -> int | None:
        """Number of datasets of a batched run; None for a single dataset."""
        return self.settings.get("batch")

    def item(self, index: int) -> SamplerResult:
        """The run of dataset `index` of a batched run (timings and counts are those of the whole batch)."""
        if self.batch is None:
            raise ValueError("item() needs a batched result")
        pick = {k: v[index] for k, v in self.samples.items()}
        stats = {k: v[index] for k, v in self.sample_stats.items()}
        settings = {**self.settings, "batch": None, "batch_index": index}
        return SamplerResult(self.sampler, pick, stats, self.wall_time_s, self.compile_time_s,
                             self.n_gradient_evals, self.n_density_evals, settings)


def aot_compile(fn: Callable[..., Any], *args: Any) -> tuple[Callable[..., Any], float]:
    """Compile `fn` for `args` ahead of time; return the compiled program and the seconds it took."""
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    return compiled, time.perf_counter() - start


def _signature(tree: Any) -> tuple[Any, ...]:
    """Structure, shapes and dtypes of a pytree: what a compiled program depends on."""
    leaves, treedef = jax.tree.flatten(tree)
    return (treedef, *((np.shape(x), np.dtype(getattr(x, "dtype", type(x))).str) for x in leaves))


def _chunking(total: int) -> tuple[int, int]:
    """(number of chunks, iterations per chunk) covering `total` iterations in at most 20 chunks."""
    n_chunks = min(20, total)
    return n_chunks, math.ceil(total / n_chunks)


def _start(target: Any, init: Params | None, chains: int, args: tuple[Any, ...], kw: dict[str, Any],
           seed: int) -> Params:
    """Unconstrained starting points, one per chain (leading axis `chains`)."""
    if isinstance(target, LogDensity):
        if init is None:
            raise InputError("NUTS: init: a LogDensity target needs a starting point")
        return jax.tree.map(lambda v: jnp.broadcast_to(v, (chains, *jnp.shape(v))), dict(init))
    from numpyro.infer import init_to_uniform, init_to_value
    from numpyro.infer.util import initialize_model

    strategy = init_to_value(values=dict(init)) if init else init_to_uniform
    keys = jax.random.split(jax.random.PRNGKey(seed + 1), chains)
    info = initialize_model(keys, target, init_strategy=strategy, model_args=args, model_kwargs=kw)
    return info.param_info.z


class _NutsPrograms(NamedTuple):
    kernel: Any
    init: Any
    chunk: Any
    compile_time_s: float


_PROGRAMS: dict[tuple[Any, ...], _NutsPrograms] = {}


def _mapped(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` over a leading axis of (states, args, kwargs), one element after the other (lax.map)."""
    return lambda states, args, kw: jax.lax.map(lambda a: fn(*a), (states, args, kw))


def _nuts_programs(target: Any, options: dict[str, Any], warmup: int, chunk: int, batch: bool,
                   vectorized: bool, example: tuple[Any, ...]) -> _NutsPrograms:
    """The compiled init and chunk programs for this target, settings and argument shapes (cached)."""
    key = (target, tuple(sorted(options.items())), warmup, chunk, batch, vectorized, _signature(example))
    if key in _PROGRAMS:
        return _PROGRAMS[key]._replace(compile_time_s=0.0)
    from numpyro.infer import NUTS

    if isinstance(target, LogDensity):
        kernel = NUTS(potential_fn=lambda p: -target.fn(p), **options)
    else:
        kernel = NUTS(target, **options)

    def constrain(args: tuple[Any, ...], kw: dict[str, Any]) -> Callable[[Params], Params]:
        if isinstance(target, LogDensity):
            return target.constrain or (lambda z: z)
        return kernel.postprocess_fn(args, kw)

    def init_chains(keys: Any, start: Params, args: tuple[Any, ...], kw: dict[str, Any]) -> Any:
        return jax.vmap(lambda k, z: kernel.init(k, warmup, z, args, kw))(keys, start)

    def run_chunk(states: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Any:
        def one_chain(state: Any) -> Any:
            def step(s: Any, _: None) -> Any:
                s = kernel.sample(s, args, kw)
                stats = {"diverging": s.diverging, "num_steps": s.num_steps, "accept_prob": s.accept_prob,
                         "energy": s.energy, "step_size": s.adapt_state.step_size}
                return s, (constrain(args, kw)(s.z), stats)

            return jax.lax.scan(step, state, None, length=chunk)

        return jax.vmap(one_chain)(states) if vectorized else jax.lax.map(one_chain, states)

    if batch:
        init_chains = jax.vmap(init_chains)
        run_chunk = jax.vmap(run_chunk) if vectorized else _mapped(run_chunk)
    keys, start, args, kw = example
    init_program, t_init = aot_compile(init_chains, keys, start, args, kw)
    states = jax.eval_shape(init_chains, keys, start, args, kw)
    chunk_program, t_chunk = aot_compile(run_chunk, states, args, kw)
    if len(_PROGRAMS) >= 8:
        _PROGRAMS.pop(next(iter(_PROGRAMS)))
    _PROGRAMS[key] = _NutsPrograms(kernel, init_program, chunk_program, t_init + t_chunk)
    return _PROGRAMS[key]


def run_nuts(
    target: Any,
    settings: NutsSettings | None = None,
    *,
    model_args: tuple[Any, ...] = (),
    model_kwargs: Mapping[str, Any] | None = None,
    seed: int = 0,
    init: Params | None = None,
    batch: bool = False,
    quiet: bool = False,
    **budget: Any,
) -> SamplerResult:
    """Sample `target` (numpyro model or :class:`LogDensity`) with NUTS under ``settings`` (default
    :class:`NutsSettings`), any of whose fields ``budget`` overrides (``chains=2, warmup=300``).

    init: for a model, constrained starting values of some sites (numpyro's init_to_value; the others
    start uniformly in (-2, 2) unconstrained, differently per chain); for a LogDensity, the unconstrained
    starting point (required), shared by every chain. batch: every array in model_args/model_kwargs has a
    leading axis of datasets, each sampled by its own `chains` chains in the same compiled program (they
    start where the first dataset's chains start, unless `init` holds one value per dataset). Programs are
    compiled once per target, settings and argument shapes, and reused by later calls in the process
    (compile_time_s is then 0). After the first `samples` draws, a run with ``rhat_target`` goes on (no
    further adaptation) in steps of `samples // 2` draws until every parameter's rank-normalised split
    R-hat is below it, in every dataset, or each chain holds ``most_draws``.
    """
    nuts = replace(settings or NutsSettings(), **budget)
    seed = check_seed(seed)
    chains, warmup, samples = nuts.chains, nuts.warmup, nuts.samples
    rhat_target, max_samples = nuts.rhat_target, nuts.most_draws
    kwargs = dict(model_kwargs or {})
    n_batch = len(jax.tree.leaves((model_args, kwargs))[0]) if batch else None
    per_dataset = batch and init is not None and all(np.ndim(v) == 1 for v in init.values())
    if per_dataset:
        starts = [
            _start(target, {k: v[b] for k, v in init.items()}, chains,
                   *jax.tree.map(lambda a, i=b: a[i], (model_args, kwargs)), seed)
            for b in range(n_batch)
        ]
        start = jax.tree.map(lambda *zs: jnp.stack(zs), *starts)
    else:
        first = jax.tree.map(lambda a: a[0], (model_args, kwargs)) if batch else (model_args, kwargs)
        start = _start(target, init, chains, *first, seed)
    keys = jax.random.split(jax.random.PRNGKey(seed), chains)
    if batch:
        if not per_dataset:
            start = jax.tree.map(lambda v: jnp.broadcast_to(v, (n_batch, *v.shape)), start)
        keys = jax.random.split(jax.random.PRNGKey(seed), n_batch * chains).reshape(n_batch, chains, -1)
    options = {"target_accept_prob": nuts.target_accept, "max_tree_depth": nuts.max_tree_depth,
               "dense_mass": nuts.dense_mass}
    n_chunks, chunk = _chunking(warmup + samples)
    programs = _nuts_programs(target, options, warmup, chunk, batch, nuts.chain_method == "vectorized",
                              (keys, start, model_args, kwargs))
    begin = time.perf_counter()
    states = programs.init(keys, start, model_args, kwargs)
    draws, stats = [], []
    for _ in progress(range(n_chunks), desc="NUTS", quiet=quiet):
        states, (z, st) = programs.chunk(states, model_args, kwargs)
        draws.append(z)
        stats.append(st)
    axis = 2 if batch else 1
    drawn = samples
    while rhat_target is not None and drawn < max_samples:
        kept = {k: np.concatenate([np.asarray(d[k]) for d in draws], axis=axis) for k in draws[0]}
        if _max_rhat(kept, warmup, warmup + drawn, axis) < rhat_target:
            break
        more = min(max(samples // 2, 1), max_samples - drawn)
        for _ in range(math.ceil((warmup + drawn + more) / chunk) - len(draws)):
            states, (z, st) = programs.chunk(states, model_args, kwargs)
            draws.append(z)
            stats.append(st)
        drawn += more
    jax.block_until_ready(states)
    wall = time.perf_counter() - begin
    keep = (slice(None),) * axis + (slice(warmup, warmup + drawn),)
    all_draws = {k: np.concatenate([np.asarray(d[k]) for d in draws], axis=axis) for k in draws[0]}
    all_stats = {k: np.concatenate([np.asarray(s[k]) for s in stats], axis=axis) for k in stats[0]}
    n_grad = int(all_stats["num_steps"][..., : warmup + drawn].sum())
    record = {"sampler": "nuts", "chains": chains, "warmup": warmup, "samples": drawn,
              "target_accept": nuts.target_accept, "max_tree_depth": nuts.max_tree_depth,
              "dense_mass": nuts.dense_mass, "chain_method": nuts.chain_method, "seed": seed,
              "batch": n_batch,
              "rhat_target": rhat_target, "max_samples": max_samples if rhat_target is not None else samples}
    return SamplerResult(
        sampler="nuts",
        samples={k: v[keep] for k, v in all_draws.items()},
        sample_stats={k: v[keep] for k, v in all_stats.items()},
        wall_time_s=wall,
        compile_time_s=programs.compile_time_s,
        n_gradient_evals=n_grad,
        n_density_evals=n_grad,
        settings=record,
    )


def _max_rhat(draws: dict[str, np.ndarray], start: int, stop: int, axis: int) -> float:
    """Largest rank-normalised split R-hat of draws[start:stop] over parameters, elements and datasets
    (draws: name -> (chains, draws, *shape), or (batch, chains, draws, *shape) when ``axis`` is 2)."""
    from inference.sampling.diagnostics import az  # imported without ArviZ's daily notice

    worst = 0.0
    for value in draws.values():
        window = np.take(np.asarray(value, dtype=np.float64), np.arange(start, stop), axis=axis)
        window = window if axis == 2 else window[None]  # (batch, chains, draws, *shape)
        flat = window.reshape(*window.shape[:3], -1)
        for b in range(flat.shape[0]):
            for e in range(flat.shape[3]):
                r = float(az.rhat(flat[b, :, :, e]))
                worst = max(worst, r if np.isfinite(r) else 0.0)
    return worst

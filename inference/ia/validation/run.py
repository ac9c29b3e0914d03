"""Injection/recovery on held-out mocks: simulation-based calibration (SBC) and interval coverage.

Usage::

    report = validate_artifact("emu/", "held_out.h5", "val/", ValidationSettings(n_injections=200))

or with any emulator and held-out realisations in memory::

    results = run_injections(emulator, held_out, settings)      # HeldOut: params, realisations, bins
    report = coverage_report(results); write_validation("val/", results, report, settings)
    # (both from inference.ia.validation.report)

Each injection is one held-out parameter point and ONE of its simulator realisations (seeded choice), fitted
with every parameter free under the emulator's prior box. A single realisation carries no covariance of its
own: its noise is what the emulator's aleatoric variance (of one realisation) describes, so the likelihood
uses a zero data covariance and emulator variance ``both`` (aleatoric + epistemic) by default; the aleatoric
part is correlated across bins by the artifact's noise correlation (:mod:`emulators.ia.noise`). By default
(``emulator_covariance="fixed"``) that covariance is held at each injection's mode, times the emulator's
calibrated factor κ when it has one, and the draws are shifted by its D
(:meth:`inference.ia.likelihood.IALikelihood.frozen_at`,
:mod:`inference.ia.posterior_calibration`); ``"varying"`` lets it follow the parameters. The injections are
fitted in batches (default one injection each) by NUTS (:func:`inference.sampling.nuts.run_nuts` with
``batch=True``), each injection's chains starting at the best point of its own multi-start mode search
(:mod:`inference.ia.mode_search`); the mode search and the NUTS programs are compiled once per run. A batch's
chains go on until every R-hat of every injection in it is below ``rhat_target`` (at most ``max_samples``
draws per chain; see :func:`inference.sampling.nuts.run_nuts`). A batch left unconverged or divergent is
fitted again with careful settings (up to ``max_retries`` times, each with a longer budget), and the last fit
is kept (:mod:`inference.ia.validation.retry`). ``workers`` processes share the batches, each pinned to a
CPU of its own and taking the next batch when it is free; a batch's seed is fixed by its position, so the
numbers do not depend on the number of workers.

Per parameter: ``u`` = the posterior fraction below the truth; the SBC rank is the number of ``n_ranks``
evenly thinned draws below it (uniform on 0..n_ranks when calibrated), tested with a chi-square over 10
bins; the central 68% / 95% intervals contain the truth when ``|u - 0.5| <= 0.34 / 0.475``.
Outputs in ``out/``: coverage.json, injections.csv, rank_histograms.png, coverage.png. Until they are
written, finished batches wait in ``.OUT.checkpoint/`` beside ``out``, so that a stopped run resumes.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from common.atomic import atomic_file
from common.errors import InputError
from common.outputs import check_output, holds
from common.progress import progress
from inference.ia.held_out import HeldOut, read_held_out
from inference.ia.likelihood import (
    Emulator,
    IALikelihood,
    build_likelihood,
)
from inference.ia.mode_search import ModeFinder, likelihood_mode_finder
from inference.ia.observations import STATISTICS, Observation
from inference.ia.posterior_calibration import calibrated_draws
from inference.ia.validation.report import coverage_report, write_validation
from inference.ia.validation.retry import needs_retry, retry_settings
from inference.ia.validation.settings import InjectionResults, ValidationSettings
from inference.sampling.diagnostics import parameter_summary
from inference.sampling.nuts import run_nuts


def choose_injections(held: HeldOut, settings: ValidationSettings) -> tuple[np.ndarray, np.ndarray]:
    """The run's injections: held-out row positions (sorted) and one realisation of each (seeded)."""
    if settings.n_injections < 1 or settings.n_injections > len(held.params):
        raise InputError(
            f"--n-injections: expected 1..{len(held.params)} (held-out rows in {held.name}), "
            f"got {settings.n_injections}"
        )
    rng = np.random.default_rng(settings.seed)
    pick = np.sort(rng.choice(len(held.params), size=settings.n_injections, replace=False))
    return pick, rng.integers(0, held.realisations.shape[1], size=pick.size)


def injection_likelihood(
    emulator: Emulator, held: HeldOut, stats: tuple[str, ...], emulator_variance: str
) -> IALikelihood:
    """The likelihood of one held-out realisation of ``stats``: zero data covariance (an identity
    placeholder its fits replace) and the emulator's variance; its own data vector (the first row's first
    realisation) is a template, each fit passes its realisation as an argument."""
    first = held.realisations[0, 0][[STATISTICS.index(s) for s in stats]]
    template = Observation(held.r, dict(zip(stats, first, strict=True)), np.eye(first.size), name=held.name)
    return build_likelihood(emulator, template, stats=stats, emulator_variance=emulator_variance)


@dataclass(frozen=True, eq=False)
class _BatchPrograms:
    """What every batch of a run shares, built (and compiled) once: the likelihood NUTS samples (with the
    fixed form, a frozen one whose covariance comes in as an argument), the mode search, and the emulator
    covariance at the modes. Rebuilt per batch, they cost ~45 s of compilation per batch on one core."""

    like: IALikelihood  # the full likelihood: mode search, emulator covariance
    sampled: IALikelihood  # what NUTS samples (its numpyro_model keys the compiled NUTS programs)
    find_modes: ModeFinder
    covariance_at: Callable[[jax.Array], jax.Array] | None  # (K, P) -> held (K, D, D); None: varying form


def _batch_programs(like: IALikelihood, settings: ValidationSettings) -> _BatchPrograms:
    fixed = settings.emulator_covariance == "fixed"
    middle = 0.5 * (like.space.lo + like.space.hi)
    centre = like.space.full(jnp.asarray(middle[like.space.free_index], jnp.float32))
    return _BatchPrograms(
        like,
        like.frozen_at(centre) if fixed else like,  # a template: each batch passes its own covariances
        likelihood_mode_finder(like, batch=True),
        jax.jit(jax.vmap(like.held_covariance)) if fixed else None,
    )


def _fit_batch(
    programs: _BatchPrograms, data: np.ndarray, truth: np.ndarray, settings: ValidationSettings, seed: int
) -> dict[str, np.ndarray]:
    """One compiled NUTS program over a batch of injections (data (K, D), truth (K, F)): per injection the
    posterior mean, sd, u, rank, R-hat and divergences; the batch's wall and compile seconds."""
    names = programs.like.space.free
    args = (jnp.asarray(data), jnp.zeros((len(data), data.shape[1], data.shape[1])))
    modes = programs.find_modes(*args, seed)
    if programs.covariance_at is not None:  # fixed: each injection's emulator covariance at its mode
        at_modes = programs.like.space.full(jnp.asarray(modes, jnp.float32))
        args = (args[0], programs.covariance_at(at_modes))
    result = run_nuts(
        programs.sampled.numpyro_model,
        **settings.budget(),
        model_args=args,
        init={name: modes[:, i] for i, name in enumerate(names)},
        batch=True,
        seed=seed,
        quiet=True,
    )
    out = {key: [] for key in ("mean", "sd", "u", "rank", "r_hat", "div")}
    for j, true in enumerate(truth):
        item = result.item(j)
        table = parameter_summary(item, names)  # R-hat of the sampler's own draws
        draws = np.stack([np.asarray(item.samples[n], float) for n in names], axis=-1)  # (chains, draws, F)
        shifted = calibrated_draws(programs.like, draws, np.random.default_rng(seed + j))
        draws = (draws if shifted is None else shifted[0]).reshape(-1, len(names))
        thinned = draws[np.linspace(0, len(draws) - 1, settings.n_ranks).round().astype(int)]
        out["mean"].append(draws.mean(0))
        out["sd"].append(draws.std(0, ddof=1))
        out["u"].append((draws < true).mean(0))
        out["rank"].append((thinned < true).sum(0))
        out["r_hat"].append([table[n]["r_hat"] or np.nan for n in names])
        out["div"].append(int(np.asarray(item.sample_stats["diverging"]).sum()))
    out["draws"] = [result.settings["samples"]] * len(truth)
    out["retried"] = [0] * len(truth)
    return {key: np.asarray(v) for key, v in out.items()} | {
        "wall": np.asarray([result.wall_time_s]),
        "compile": np.asarray([result.compile_time_s]),
    }


def _fit_again(
    programs: _BatchPrograms,
    data: np.ndarray,
    truth: np.ndarray,
    settings: ValidationSettings,
    seed: int,
    last: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """The batch's next refit after ``last`` (:func:`retry_settings`), kept in its place; the seconds of
    every fit add up."""
    refit = int(last["retried"].max()) + 1
    again = _fit_batch(programs, data, truth, retry_settings(settings, refit), seed)
    return again | {
        "retried": np.full_like(last["retried"], refit, dtype=int),
        "wall": last["wall"] + again["wall"],
        "compile": last["compile"] + again["compile"],
    }


def _save(path: Path | None, fit: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``fit``, saved (atomically) at ``path`` first unless that is None: each fit is kept as it ends."""
    if path is not None:
        with atomic_file(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **fit)
    return fit


@dataclass(frozen=True, eq=False)
class _Chosen:
    """A run's injections ready to fit: their likelihood, data (K, D), truths (K, F), held-out rows and
    realisations."""

    like: IALikelihood
    data: np.ndarray
    truth: np.ndarray
    rows: np.ndarray
    realisation: np.ndarray


def _choose(emulator: Emulator, held: HeldOut, settings: ValidationSettings) -> _Chosen:
    pick, real = choose_injections(held, settings)
    stats = settings.stats or tuple(s for s in STATISTICS if s in emulator.statistics)
    idx = [STATISTICS.index(s) for s in stats]
    like = injection_likelihood(emulator, held, stats, settings.emulator_variance)
    data = held.realisations[pick, real][:, idx].reshape(len(pick), -1)  # (K, S'B)
    return _Chosen(like, data, held.params[pick][:, like.space.free_index], held.rows[pick], real)


def _batch_starts(settings: ValidationSettings) -> range:
    return range(0, settings.n_injections, settings.batch)


def _fitted_batch(
    chosen: _Chosen,
    programs: _BatchPrograms,
    settings: ValidationSettings,
    start: int,
    checkpoint: Path | None,
) -> dict[str, np.ndarray]:
    """The batch of injections from position ``start``: read back from ``checkpoint`` when saved there,
    else fitted (and saved); refitted while it needs it. Its seed is ``seed + start`` whichever process
    fits it, so the numbers do not depend on the number of workers."""
    chunk = slice(start, start + settings.batch)
    data, truth, seed = chosen.data[chunk], chosen.truth[chunk], settings.seed + start
    saved = None if checkpoint is None else checkpoint / f"batch-{start}.npz"
    if saved is not None and saved.is_file():  # fitted before the run was stopped
        with np.load(saved) as f:
            fit = dict(f)
    else:
        fit = _save(saved, _fit_batch(programs, data, truth, settings, seed))
    while needs_retry(fit, settings):
        fit = _save(saved, _fit_again(programs, data, truth, settings, seed, fit))
    return fit


def _results(chosen: _Chosen, settings: ValidationSettings, batches: list[dict]) -> InjectionResults:
    arr = {key: np.concatenate([b[key] for b in batches]) for key in batches[0]}
    return InjectionResults(
        chosen.like.space.free,
        chosen.rows,
        chosen.realisation,
        chosen.truth,
        arr["mean"],
        arr["sd"],
        arr["u"],
        arr["rank"],
        arr["r_hat"],
        arr["div"],
        arr["draws"],
        arr["retried"],
        settings.n_ranks,
        float(arr["wall"].sum()),
        float(arr["compile"].sum()),
    )


def run_injections(
    emulator: Emulator,
    held: HeldOut,
    settings: ValidationSettings,
    *,
    quiet: bool = False,
    checkpoint: Path | None = None,
) -> InjectionResults:
    """Fit the chosen injections with NUTS (all parameters free) and collect u, ranks, R-hat, divergences.

    checkpoint: a folder where each fit of a batch is saved as it ends, and from which saved batches are
    read back instead of being fitted again (a stopped run resumes, with the refits still due; see
    :func:`checkpoint_folder`).
    """
    chosen = _choose(emulator, held, settings)
    programs = _batch_programs(chosen.like, settings)
    starts = _batch_starts(settings)
    batches = [
        _fitted_batch(chosen, programs, settings, start, checkpoint)
        for start in progress(starts, desc="injections", quiet=quiet)
    ]
    return _results(chosen, settings, batches)


def _pin_to_cpu(index: int) -> None:
    """Keep this process, and every thread it starts from now on (XLA's pool among them), on one of the
    CPUs it may use, with XLA on one thread. Unpinned, two JAX workers on 2 cores each start a pool as wide
    as the machine and ran ~4x slower than one alone; pinned, each runs at the speed of one alone (0.49-0.52
    vs 0.63 ms per value and gradient of the emulator likelihood)."""
    if hasattr(os, "sched_getaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[index % len(cpus)]})
    # XLA's Eigen pool spin-waits: two of its threads on one pinned core doubled the CPU time of a worker
    os.environ["XLA_FLAGS"] = " ".join(
        [os.environ.get("XLA_FLAGS", ""), "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"]
    ).strip()


# a worker process's injections, programs, settings and checkpoint (set once by _start_worker)
_WORKER: tuple[_Chosen, _BatchPrograms, ValidationSettings, Path] | None = None


def _start_worker(
    emulator_dir: str, held_out: str, settings: ValidationSettings, checkpoint: Path, next_cpu
) -> None:
    """A worker process's set-up: pinned to the next free CPU (``next_cpu``, a shared counter), before
    JAX's first computation starts its thread pool; then the emulator, the injections and the programs."""
    from inference.ia.emulator_jax import load_jax_emulator

    global _WORKER
    with next_cpu.get_lock():
        index, next_cpu.value = next_cpu.value, next_cpu.value + 1
    _pin_to_cpu(index)
    emulator = load_jax_emulator(emulator_dir, n_realisations=1)
    chosen = _choose(emulator, read_held_out(held_out, emulator), settings)
    _WORKER = (chosen, _batch_programs(chosen.like, settings), settings, checkpoint)


def _worker_batch(start: int) -> dict[str, np.ndarray]:
    assert _WORKER is not None, "a worker fits batches only after _start_worker"
    chosen, programs, settings, checkpoint = _WORKER
    return _fitted_batch(chosen, programs, settings, start, checkpoint)


def _run_on_workers(
    emulator_dir: str | Path,
    held_out: str | Path,
    settings: ValidationSettings,
    checkpoint: Path,
    workers: int,
    quiet: bool,
) -> list[dict[str, np.ndarray]]:
    """Every batch's fit (in order), fitted by ``workers`` processes of one CPU each; a worker takes the next
    unfitted batch as soon as it is free, so none idles while batches remain. Every worker runs XLA alike
    (one thread, :func:`_pin_to_cpu`), so a batch's numbers are the same whichever worker fits it and however
    many there are (XLA on several threads rounds differently, and NUTS carries the difference on)."""
    context = multiprocessing.get_context("spawn")  # JAX does not survive fork
    setup = (str(emulator_dir), str(held_out), settings, checkpoint, context.Value("i", 0))
    starts = _batch_starts(settings)
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=setup) as pool:
        return list(
            progress(pool.map(_worker_batch, starts), total=len(starts), desc="injections", quiet=quiet)
        )


def checkpoint_folder(out: Path, key: dict) -> Path:
    """The folder beside ``out`` (``.NAME.checkpoint``) where a validation keeps its finished batches until
    it writes ``out``, one file per batch named by its first injection's position (whatever worker fitted
    it). Batches saved under another ``key`` (settings, emulator, held-out file) are deleted: they belong to
    a different run."""
    folder = out.parent / f".{out.name}.checkpoint"
    stamp, text = folder / "key.json", json.dumps(key, sort_keys=True)
    if folder.exists() and not (stamp.is_file() and stamp.read_text() == text):
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stamp.write_text(text)
    return folder


def validate_artifact(
    emulator_dir: str | Path,
    held_out: str | Path,
    out: str | Path,
    settings: ValidationSettings | None = None,
    *,
    workers: int = 1,
    quiet: bool = False,
) -> dict:
    """``iaemu validate``: fit K held-out mocks with the emulator of ``emulator_dir``; return the report.

    ``workers`` processes (one pinned core each) share the injections, even when there is one.
    Finished batches are saved beside ``out`` (:func:`checkpoint_folder`): the same command run again
    after a stop resumes where it was.
    """
    from common.hashing import hash_files
    from inference.ia.emulator_jax import load_jax_emulator

    settings = settings or ValidationSettings()
    check_output(out, "dir", inputs=(emulator_dir, held_out), own=holds("coverage.json"))
    emulator = load_jax_emulator(emulator_dir, n_realisations=1)  # one realisation per injection
    held = read_held_out(held_out, emulator)
    chosen = _choose(emulator, held, settings)  # refuses bad input before any work starts
    begin = time.perf_counter()
    workers = max(1, min(workers, len(_batch_starts(settings))))
    key = {"settings": asdict(settings), "emulator": emulator.digest(), "held_out": hash_files(held_out)}
    checkpoint = checkpoint_folder(Path(out), key)
    batches = _run_on_workers(emulator_dir, held_out, settings, checkpoint, workers, quiet)
    results = _results(chosen, settings, batches)
    report = coverage_report(results)
    report["run"] |= {
        "workers": workers,
        "elapsed_s": time.perf_counter() - begin,
        "emulator_digest": key["emulator"],
        "held_out_sha256": key["held_out"],
    }
    write_validation(out, results, report, settings)
    shutil.rmtree(checkpoint)
    return report

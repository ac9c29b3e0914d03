"""The mock-dataset builder: N design points x R realisations of ξ, ω, η into HDF5 (docs/ARCHITECTURE.md 3.1,
4.1).

Workers each hold one :class:`~catalogs.mocks.hod.HodIAModel` (built once) and re-populate it per realisation
with a seed derived from (seed, row, realisation, attempt), so the numbers do not depend on the number of
workers or on interruptions: a killed run started again finishes with the rows an uninterrupted run gives. A
realisation that fails or gives a non-finite statistic is retried with the next attempt's seed; after
``max_retries`` retries it is recorded as failed (NaN statistics, ``n_gal`` −1, listed in the ``failed``
attribute), never averaged in.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from catalogs.halos.sources import catalog_metadata
from catalogs.mocks.correlations import MOCK_LIMIT, STATISTICS, check_r_edges, galaxy_arrays, measure
from catalogs.mocks.design import RunConfig, latin_hypercube
from catalogs.mocks.hod import PARAM_NAMES, HodIAModel, model_description
from catalogs.mocks.store import MockStore, RowResult, check_writable
from common.errors import InputError, check_seed
from common.progress import progress

_MODEL: HodIAModel | None = None  # the model of this process (a worker inherits it when forked)


def realisation_seed(seed: int, row: int, realisation: int, attempt: int = 0) -> int:
    """The populate seed of one realisation, a pure function of its indices (< 2**31 - 2**10)."""
    state = np.random.SeedSequence([seed, row, realisation, attempt]).generate_state(1, dtype=np.uint64)[0]
    return int(state % np.uint64(2**31 - 2**10))


def _attempt(model: HodIAModel, params: np.ndarray, r_edges: np.ndarray, seed: int):
    """One populate + measurement: (statistics, "") or (None, why it failed)."""
    from halotools.custom_exceptions import HalotoolsError

    try:
        pos, axes = galaxy_arrays(model.populate(params, seed))
        measured = measure(pos, axes, r_edges, model.Lbox)
    except (HalotoolsError, ValueError, ZeroDivisionError) as err:
        return None, f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0]}"
    bad = [name for name in STATISTICS if not np.all(np.isfinite(measured[name]))]
    if bad:
        return None, f"non-finite {', '.join(bad)} with {len(pos)} galaxies (an empty bin)"
    return measured | {"n_gal": len(pos)}, ""


def simulate_point(
    model: HodIAModel,
    params: np.ndarray,
    r_edges: np.ndarray,
    realisations: int,
    seed: int,
    row: int,
    max_retries: int,
) -> RowResult:
    """All `realisations` of one design point: ξ, ω, η on `r_edges` (Mpc/h) and galaxy counts."""
    stats = {name: np.full((realisations, len(r_edges) - 1), np.nan) for name in STATISTICS}
    n_gal = np.full(realisations, -1, dtype=np.int64)
    failures = []
    for real in range(realisations):
        for attempt in range(max_retries + 1):
            measured, reason = _attempt(model, params, r_edges, realisation_seed(seed, row, real, attempt))
            if measured is not None:
                for name in STATISTICS:
                    stats[name][real] = measured[name]
                n_gal[real] = measured["n_gal"]
                break
        failures.append(f"{reason} (after {max_retries + 1} attempts)" if reason else "")
    return RowResult(row, stats, n_gal, tuple(failures))


def _run_row(task: tuple) -> RowResult:
    assert _MODEL is not None
    return simulate_point(_MODEL, *task)


def _results(tasks: list[tuple], workers: int) -> Iterator[RowResult]:
    """Run `tasks` here (one worker) or in forked worker processes, yielding rows as they finish."""
    if workers <= 1 or len(tasks) <= 1:
        yield from map(_run_row, tasks)
        return
    with multiprocessing.get_context("fork").Pool(min(workers, len(tasks))) as pool:
        yield from pool.imap_unordered(_run_row, tasks)


def _package_version() -> str:
    try:
        return version("iaemu")
    except PackageNotFoundError:
        return "0+unknown"


def _design(model: HodIAModel, config: RunConfig, n_points: int | None, seed: int):
    """The prior box (logMmin narrowed to the catalog when asked) and the (N, P) design points."""
    box = (
        config.prior.narrowed_logMmin(*model.resolved_log_mass())
        if config.narrow_to_catalog
        else config.prior
    )
    if config.points is None:
        if n_points is None:
            raise InputError("n-points: expected a number of design points (or `points` in the config)")
        return box, latin_hypercube(box, n_points, seed), "latin_hypercube"
    if n_points is not None and n_points != len(config.points):
        raise InputError(f"n-points: {n_points} given, but the config lists {len(config.points)} points")
    box.check_inside(config.points, "config: points")
    return box, config.points, "explicit"


def build_mock_dataset(
    halocat,
    out: str | Path,
    *,
    n_points: int | None = None,
    realisations: int = 1,
    seed: int = 0,
    workers: int = 1,
    config: RunConfig | None = None,
    quiet: bool = False,
    checkpoint_seconds: float = 60.0,
) -> Path:
    """Build (or resume) the dataset `out` of contract 3.1 on `halocat` and return its path.

    `n_points` Latin-hypercube points (or the config's explicit points) x `realisations` mocks each, in
    `workers` processes; every `checkpoint_seconds` the finished rows are written to `out` (atomically).
    """
    global _MODEL
    out = Path(out)
    config = config or RunConfig()
    if realisations < 1 or workers < 1:
        raise InputError("realisations, workers: expected realisations >= 1, workers >= 1")
    seed = check_seed(seed)
    check_writable(out)
    halo_meta = catalog_metadata(halocat)  # name, Lbox, redshift, particle_mass, content_hash
    r_edges = check_r_edges(config.r_edges, float(halo_meta["Lbox"]), limit=MOCK_LIMIT)
    model = HodIAModel(halocat, name=halo_meta["name"], min_particles=config.min_particles,
                       satellites=config.satellites, elongation=config.satellite_elongation)
    satellites, elongation = model.satellites, config.satellite_elongation
    box, params, design = _design(model, config, n_points, seed)
    identity = {
        "params": params.tolist(),
        "prior": [box.lo.tolist(), box.hi.tolist()],
        "r_edges": r_edges.tolist(),
        "realisations": realisations,
        "seed": seed,
        "max_retries": config.max_retries,
        "min_particles": config.min_particles,
        "halos": halo_meta["content_hash"],
        "model": model_description(satellites, elongation),
    }
    plan = {
        "run_key": hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:32],
        "param_names": list(PARAM_NAMES),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    store = MockStore(out, plan, len(params), realisations, len(r_edges) - 1)
    store.open()
    attrs = {
        "halo_catalog": json.dumps(halo_meta),
        "model": json.dumps(model_description(satellites, elongation)),
        "seed": seed,
        "realisations": realisations,
        "created": store.plan["created"],
        "package_version": _package_version(),
        "design": design,
        "max_retries": config.max_retries,
        "min_particles": config.min_particles,
    }

    def save(final: bool) -> None:
        store.save(params, box.lo, box.hi, r_edges, attrs, final)

    todo = [
        (params[row], r_edges, realisations, seed, int(row), config.max_retries)
        for row in np.flatnonzero(~store.done)
    ]
    _MODEL = model
    last = time.monotonic()
    for result in progress(_results(todo, workers), total=len(todo), desc="mocks", quiet=quiet):
        store.add(result)
        if time.monotonic() - last >= checkpoint_seconds:
            save(final=False)
            last = time.monotonic()
    save(final=True)
    if store.failures and not quiet:
        print(
            f"warning: {len(store.failures)} of {store.n_gal.size} realisations failed and are stored as NaN "
            f"(first: {next(iter(store.failures.values()))})",
            file=sys.stderr,
        )
    return out

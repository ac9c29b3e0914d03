"""Injection/recovery on the analytic stand-in: calibrated coverage, exact posteriors, outputs; the CLI."""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest

from common.errors import InputError
from common.hashing import hash_files
from inference.ia.validation import run as validation
from inference.ia.validation.report import coverage_report, write_validation
from inference.ia.validation.run import (
    HeldOut,
    ValidationSettings,
    checkpoint_folder,
    read_held_out,
    run_injections,
)
from tests.inference.ia.standin import exact_posterior, make_standin


def held_out_mocks(emu, n: int, n_real: int, seed: int) -> HeldOut:
    """Parameters uniform on the box; each realisation ~ N(mean(θ), aleatoric) (the stand-in is exact)."""
    rng = np.random.default_rng(seed)
    params = rng.uniform(emu.prior_lo, emu.prior_hi, size=(n, len(emu.param_names)))
    mean = params @ emu.A.astype(float).T + emu.b
    noise = rng.normal(size=(n, n_real, mean.shape[1])) * np.sqrt(emu.aleatoric.astype(float))
    cube = (mean[:, None] + noise).reshape(n, n_real, 3, emu.r.size)
    return HeldOut("mocks.h5", params, cube, emu.r, np.arange(n))


def test_injections_are_calibrated_and_exact(tmp_path: Path) -> None:
    emu = make_standin(seed=11, posterior_sd=0.05)
    emu.epistemic = np.zeros_like(emu.epistemic)
    held = held_out_mocks(emu, 80, 3, seed=12)
    settings = ValidationSettings(
        n_injections=60, chains=2, warmup=300, samples=500, batch=60, seed=4, rhat_target=None
    )
    res = run_injections(emu, held, settings, quiet=True)
    assert (res.draws == 500).all()  # a fixed budget
    report = coverage_report(res)
    # every injection's posterior is the exact one where the box does not truncate it
    sigma = np.diag(emu.aleatoric.astype(float))
    checked = 0
    for j in range(len(res.truth)):
        d = held.realisations[held.rows.tolist().index(res.rows[j]), res.realisation[j]].reshape(-1)
        mean, cov = exact_posterior(emu.A, emu.b, d, sigma)
        sd = np.sqrt(np.diag(cov))
        if np.all(np.abs(mean) + 4 * sd < 1):
            np.testing.assert_allclose(res.post_mean[j], mean, atol=0.15 * sd.max())
            np.testing.assert_allclose(res.post_sd[j], sd, rtol=0.2)
            checked += 1
    assert checked >= 20
    for name, row in report["parameters"].items():
        for level in (68, 95):
            nominal = level / 100
            assert abs(row[f"coverage_{level}"] - nominal) < 4 * row[f"coverage_{level}_se"], (name, row)
        assert row["sbc_chi2_p"] > 1e-3 and row["max_r_hat"] < 1.05
    write_validation(tmp_path / "val", res, report, settings)
    files = {p.name for p in (tmp_path / "val").iterdir()}
    assert files == {"coverage.json", "injections.csv", "rank_histograms.png", "coverage.png"}
    saved = json.loads((tmp_path / "val" / "coverage.json").read_text())
    with open(tmp_path / "val" / "injections.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 60 == saved["run"]["n_injections"]
    u = np.array([float(r["p1_u"]) for r in rows])
    assert saved["parameters"]["p1"]["coverage_68"] == pytest.approx(np.mean(np.abs(u - 0.5) <= 0.34))
    assert {r["draws"] for r in rows} == {"500"}


def test_injections_whose_model_is_shifted_by_d_are_calibrated_with_d() -> None:
    """Held-out realisations of the stand-in at θ + δ, δ ~ N(0, D) (an emulator whose error is such a shift):
    with the calibration's D the fits cover the truths at the nominal rate, and each posterior sd is
    √(exact² + D) where the box does not cut it."""
    emu = make_standin(seed=11, posterior_sd=0.05)
    emu.epistemic = np.zeros_like(emu.epistemic)
    emu.error_covariance = np.zeros((18, 18))
    emu.n_realisations = 1
    emu.parameter_variance = np.array([0.01, 0.0025, 0.0])
    held = held_out_mocks(emu, 80, 3, seed=12)
    shift = np.random.default_rng(13).standard_normal(held.params.shape) * np.sqrt(emu.parameter_variance)
    moved = (held.params + shift) @ emu.A.astype(float).T - held.params @ emu.A.astype(float).T
    held = HeldOut(held.name, held.params, held.realisations + moved.reshape(80, 1, 3, -1), held.r, held.rows)
    settings = ValidationSettings(
        n_injections=60, chains=2, warmup=300, samples=500, batch=60, seed=4, rhat_target=None
    )
    res = run_injections(emu, held, settings, quiet=True)
    sigma = np.diag(emu.aleatoric.astype(float))
    checked = 0
    for j in range(len(res.truth)):
        d = held.realisations[held.rows.tolist().index(res.rows[j]), res.realisation[j]].reshape(-1)
        mean, cov = exact_posterior(emu.A, emu.b, d, sigma)
        sd = np.sqrt(np.diag(cov) + emu.parameter_variance)
        if np.all(np.abs(mean) + 4 * sd < 1):
            np.testing.assert_allclose(res.post_sd[j], sd, rtol=0.2)
            checked += 1
    assert checked >= 15
    for name, row in coverage_report(res)["parameters"].items():
        for level in (68, 95):
            assert abs(row[f"coverage_{level}"] - level / 100) < 4 * row[f"coverage_{level}_se"], (name, row)


def test_each_batch_goes_on_until_its_rhat_is_below_the_target() -> None:
    emu = make_standin(seed=3, posterior_sd=0.1)
    held = held_out_mocks(emu, 20, 2, seed=5)
    settings = ValidationSettings(
        n_injections=6, chains=2, warmup=60, samples=20, max_samples=240, batch=2, retry_target_accept=None
    )
    res = run_injections(emu, held, settings, quiet=True)
    assert res.draws.max() > 20  # 20 draws per chain are too few for R-hat < 1.01
    for batch in range(3):
        pair = slice(2 * batch, 2 * batch + 2)
        assert res.draws[pair][0] == res.draws[pair][1]  # one program per batch
        assert res.r_hat[pair].max() < 1.01 or res.draws[pair][0] == 240


def test_which_batches_are_fitted_again() -> None:
    settings = ValidationSettings(chains=2, rhat_target=1.01, max_retries=2)

    def batch(r_hat: float, div: int, retried: int = 0) -> dict[str, np.ndarray]:
        return {
            "r_hat": np.array([[1.0, r_hat]]),
            "div": np.array([div]),
            "draws": np.array([100]),
            "retried": np.array([retried]),
        }

    assert not validation.needs_retry(batch(1.009, 2), settings)  # 2 of 200 draws divergent: 1%
    assert validation.needs_retry(batch(1.01, 0), settings)  # R-hat must be below the target
    assert validation.needs_retry(batch(1.0, 3), settings)
    assert validation.needs_retry(batch(1.2, 50, retried=1), settings)  # a second refit is allowed
    assert not validation.needs_retry(batch(1.2, 50, retried=2), settings)  # max_retries reached
    assert not validation.needs_retry(batch(1.2, 50, retried=1), replace(settings, max_retries=1))
    assert not validation.needs_retry(batch(1.2, 50), replace(settings, retry_target_accept=None))
    run = ValidationSettings(warmup=500, samples=500, max_samples=2000)
    for refit, budget in ((1, (1000, 4000)), (2, (2000, 8000))):
        careful = validation.retry_settings(run, refit)
        assert (careful.target_accept, careful.warmup, careful.max_samples) == (0.99, *budget)
    assert validation.retry_settings(ValidationSettings(samples=50), 1).max_samples == 400  # 2 × 4 × samples


def test_an_unconverged_batch_is_fitted_again_and_the_last_fit_is_kept(monkeypatch, tmp_path) -> None:
    emu = make_standin(seed=3, posterior_sd=0.1)
    held = held_out_mocks(emu, 20, 2, seed=5)
    # 8 draws per chain, never extended: R-hat < 1.01 is out of reach for most first fits
    settings = ValidationSettings(n_injections=4, chains=2, warmup=40, samples=8, max_samples=8, seed=1)
    calls, fits = [], []
    real_nuts = validation.run_nuts
    monkeypatch.setattr(validation, "run_nuts", lambda *a, **k: calls.append(k) or real_nuts(*a, **k))
    real_fit = validation._fit_batch
    monkeypatch.setattr(validation, "_fit_batch", lambda *a: fits.append(real_fit(*a)) or fits[-1])
    res = run_injections(emu, held, settings, quiet=True, checkpoint=tmp_path)
    first = [i for i, c in enumerate(calls) if c["target_accept"] == settings.target_accept]
    assert len(first) == 4 and 0 < (res.retried > 0).sum() and res.retried.sum() == len(calls) - 4
    ends = [*first[1:], len(calls)]
    for start, end in zip(first, ends, strict=True):
        for refit in range(1, end - start):  # each refit follows a fit of its batch that needed one
            c = calls[start + refit]
            assert (c["target_accept"], c["warmup"], c["max_samples"]) == (0.99, 40 * 2**refit, 8 * 2**refit)
            assert validation.needs_retry(fits[start + refit - 1], settings)
            assert c["seed"] == calls[start]["seed"]
    kept = [fits[end - 1] for end in ends]
    np.testing.assert_array_equal(res.post_mean, np.concatenate([k["mean"] for k in kept]))
    assert res.retried.tolist() == [end - start - 1 for start, end in zip(first, ends, strict=True)]
    assert res.retried.max() <= settings.max_retries
    assert res.wall_time_s == pytest.approx(sum(float(f["wall"][0]) for f in fits))
    for position, fit in enumerate(kept):  # the checkpoint holds each batch's last fit
        with np.load(tmp_path / f"batch-{position}.npz") as saved:
            np.testing.assert_array_equal(saved["mean"], fit["mean"])


def test_a_resumed_run_refits_only_the_saved_batches_that_need_it(monkeypatch, tmp_path) -> None:
    emu = make_standin(seed=3, posterior_sd=0.1)
    held = held_out_mocks(emu, 20, 2, seed=5)
    once = ValidationSettings(
        n_injections=4, chains=2, warmup=40, samples=8, max_samples=8, seed=1, max_retries=1
    )
    before = run_injections(emu, held, once, quiet=True, checkpoint=tmp_path)
    saved = []
    for position in range(4):
        with np.load(tmp_path / f"batch-{position}.npz") as f:
            saved.append(dict(f))
    expected = [validation.needs_retry(fit, replace(once, max_retries=2)) for fit in saved]
    assert any(expected)  # some refit of the stand-in is still unconverged at 16 draws per chain
    calls = []
    real_fit = validation._fit_batch
    monkeypatch.setattr(validation, "_fit_batch", lambda *a: calls.append(a[3]) or real_fit(*a))
    after = run_injections(emu, held, replace(once, max_retries=2), quiet=True, checkpoint=tmp_path)
    assert len(calls) == sum(expected) and all((c.warmup, c.max_samples) == (160, 32) for c in calls)
    assert after.retried.tolist() == [2 if e else r for e, r in zip(expected, before.retried, strict=True)]
    untouched = ~np.asarray(expected)
    np.testing.assert_array_equal(after.post_mean[untouched], before.post_mean[untouched])


def test_a_run_compiles_its_nuts_programs_once(monkeypatch) -> None:
    from inference.sampling import nuts as samplers

    monkeypatch.setattr(samplers, "_PROGRAMS", {})
    emu = make_standin(seed=3, posterior_sd=0.1)
    held = held_out_mocks(emu, 20, 2, seed=5)
    settings = ValidationSettings(n_injections=3, chains=2, warmup=30, samples=30, batch=1, rhat_target=None)
    assert settings.emulator_covariance == "fixed"  # each batch has its own covariances at its modes
    run_injections(emu, held, settings, quiet=True)
    assert len(samplers._PROGRAMS) == 1  # three batches, one compiled NUTS program


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity on this platform")
def test_each_worker_is_pinned_to_one_cpu() -> None:
    allowed = sorted(os.sched_getaffinity(0))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        pinned = list(pool.map(_pinned_cpus, [0, 1]))
    assert pinned == [{allowed[0]}, {allowed[1 % len(allowed)]}]
    assert os.sched_getaffinity(0) == set(allowed)  # the parent is left as it was


def _pinned_cpus(index: int) -> set[int]:
    validation._pin_to_cpu(index)
    return os.sched_getaffinity(0)


def test_a_stopped_validation_resumes_from_its_saved_batches(tmp_path: Path, monkeypatch) -> None:
    emu = make_standin(seed=3, posterior_sd=0.1)
    held = held_out_mocks(emu, 20, 2, seed=5)
    settings = ValidationSettings(
        n_injections=5, chains=2, warmup=50, samples=50, batch=2, seed=2, retry_target_accept=None
    )
    folder = checkpoint_folder(tmp_path / "val", {"run": 1})
    assert folder == tmp_path / ".val.checkpoint"
    first = run_injections(emu, held, settings, quiet=True, checkpoint=folder)
    saved = sorted(p.name for p in folder.glob("*.npz"))
    assert saved == ["batch-0.npz", "batch-2.npz", "batch-4.npz"]
    (folder / "batch-2.npz").unlink()  # stopped while the second batch ran
    fitted = []
    real_nuts = validation.run_nuts
    monkeypatch.setattr(validation, "run_nuts", lambda *a, **k: fitted.append(1) or real_nuts(*a, **k))
    again = run_injections(
        emu, held, settings, quiet=True, checkpoint=checkpoint_folder(folder.parent / "val", {"run": 1})
    )
    assert len(fitted) == 1  # only the lost batch is fitted again, with its own seed: the same draws
    np.testing.assert_array_equal(again.u, first.u)
    np.testing.assert_array_equal(again.post_mean, first.post_mean)
    assert again.wall_time_s > 0
    assert not list(checkpoint_folder(tmp_path / "val", {"run": 2}).glob("*.npz"))  # another run's batches


def write_mock_file(path: Path, held: HeldOut, names: tuple[str, ...]) -> Path:
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("params", data=held.params)
        ds.attrs["param_names"] = list(names)
        f["r"] = held.r
        for s, name in enumerate(("xi", "omega", "eta")):
            f[name] = held.realisations[:, :, s]
        f["done"] = np.array([True] * (len(held.params) - 1) + [False])
    return path


def test_held_out_file_is_checked_and_training_rows_are_excluded(tmp_path: Path) -> None:
    emu = make_standin(seed=1)
    held = held_out_mocks(emu, 6, 2, seed=0)
    path = write_mock_file(tmp_path / "mocks.h5", held, emu.param_names)
    got = read_held_out(path, emu)
    np.testing.assert_array_equal(got.rows, np.arange(5))  # the unfinished row is left out
    np.testing.assert_array_equal(got.realisations, held.realisations[:5])
    emu.doc = {"training": {"data": {"sha256": hash_files(path)}, "split": {"test_rows": [1, 3, 5]}}}
    np.testing.assert_array_equal(read_held_out(path, emu).rows, [1, 3])  # trained-on rows never injected
    with pytest.raises(InputError, match="--n-injections: expected 1..2"):
        run_injections(emu, read_held_out(path, emu), ValidationSettings(n_injections=3))
    other = write_mock_file(tmp_path / "other.h5", held, ("a", "b", "c"))
    with pytest.raises(
        InputError, match="other.h5: /params: param_names a, b, c differ from the emulator's p0"
    ):
        read_held_out(other, emu)


# --- the command line ---------------------------------------------------------------------------------------


def iaemu(*args: str):
    import subprocess
    import sys

    return subprocess.run(
        [str(Path(sys.executable).parent / "iaemu"), *args], capture_output=True, text=True, timeout=600
    )


def emulator_and_mocks(root: Path, n: int) -> tuple[Path, Path]:
    """A small artifact and held-out mocks drawn from its own predictive distribution (so it is exact)."""
    import jax.numpy as jnp

    from emulators.ia.network import ModelConfig
    from inference.ia.emulator_jax import load_jax_emulator
    from tests.inference.ia.test_emulator_jax import HI, LO, NAMES, make_artifact

    make_artifact(
        root / "emu", ModelConfig(hidden=16, n_blocks=1, latent=16, dec_channels=[4, 4], n_bins=6), 2
    )
    emu = load_jax_emulator(root / "emu", n_realisations=1)
    rng = np.random.default_rng(0)
    params = rng.uniform(LO, HI, size=(n, 7))
    pred = emu.predict_batch(jnp.asarray(params, jnp.float32))
    sd = np.sqrt(np.asarray(pred.aleatoric, float) + np.asarray(pred.epistemic, float))
    cube = np.asarray(pred.mean, float)[:, None] + sd[:, None] * rng.normal(size=(n, 2, 3, 6))
    held = HeldOut("mocks.h5", params, cube, emu.r, np.arange(n))
    path = write_mock_file(root / "held_out.h5", held, tuple(NAMES))
    with h5py.File(path, "a") as f:
        f["r_edges"] = emu.r_edges
        f["done"][-1] = True
    return root / "emu", path


@pytest.mark.slow
def test_batches_of_two_workers_resume_on_one_worker_with_the_same_numbers(tmp_path: Path) -> None:
    emu_dir, mocks = emulator_and_mocks(tmp_path, 6)
    settings = ValidationSettings(
        n_injections=4, chains=2, warmup=100, samples=100, seed=1, rhat_target=None, retry_target_accept=None
    )
    folder = checkpoint_folder(tmp_path / "val", {"run": 1})
    two = validation._run_on_workers(emu_dir, mocks, settings, folder, workers=2, quiet=True)
    files = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.npz")}
    assert sorted(files) == [f"batch-{i}.npz" for i in range(4)]
    (folder / "batch-2.npz").unlink()  # stopped while a worker fitted it
    one = validation._run_on_workers(emu_dir, mocks, settings, folder, workers=1, quiet=True)
    again = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.npz")}
    assert {n: t for n, t in again.items() if t != files.get(n)} == {"batch-2.npz": again["batch-2.npz"]}
    for before, after in zip(two, one, strict=True):  # only the lost batch is fitted, to the same numbers
        for key in ("u", "rank", "mean", "sd", "r_hat"):
            np.testing.assert_array_equal(after[key], before[key])


@pytest.mark.slow
def test_validate_command_end_to_end(tmp_path: Path) -> None:
    emu, mocks = emulator_and_mocks(tmp_path, 6)
    result = iaemu(
        "validate",
        str(emu),
        str(mocks),
        "--n-injections",
        "4",
        "--out",
        str(tmp_path / "val"),
        "--chains",
        "2",
        "--warmup",
        "200",
        "--samples",
        "200",
        "--seed",
        "1",
        "--workers",
        "2",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    saved = json.loads((tmp_path / "val" / "coverage.json").read_text())
    assert saved["run"]["workers"] == 2 and saved["settings"]["chain_method"] == "sequential"
    assert saved["run"]["n_injections"] == 4 and set(saved["parameters"]) == {
        "mu_cen",
        "mu_sat",
        "logMmin",
        "sigma_logM",
        "logM0",
        "logM1",
        "alpha",
    }
    with open(tmp_path / "val" / "injections.csv") as fh:
        rows = list(csv.DictReader(fh))
    truth = np.array([[float(r[f"{n}_truth"]) for n in saved["parameters"]] for r in rows])
    with h5py.File(mocks) as f:
        np.testing.assert_allclose(truth, f["params"][()][[int(r["row"]) for r in rows]])
    assert "68% cover" in result.stdout
    assert not (tmp_path / ".val.checkpoint").exists()  # removed once the outputs are written


def test_validate_command_refuses_bad_input(tmp_path: Path) -> None:
    emu, mocks = emulator_and_mocks(tmp_path, 3)
    result = iaemu("validate", str(emu), str(mocks), "--n-injections", "5", "--out", str(tmp_path / "val"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: --n-injections: expected 1..3 (held-out rows in {mocks}), got 5"
    ]
    assert not (tmp_path / "val").exists() and not (tmp_path / ".val.checkpoint").exists()

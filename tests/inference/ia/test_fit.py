"""NUTS and emcee on the analytic stand-in recover the exact posterior; fixed parameters stay fixed;
the fit directory of docs/ARCHITECTURE.md 3.5 is written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from inference.ia.fit import FitSettings, sample_posterior, write_fit
from inference.ia.likelihood import build_likelihood
from tests.inference.ia.standin import exact_posterior, make_standin, observe, random_cov

TRUTH = np.array([0.2, -0.3, 0.1])


@pytest.fixture(scope="module")
def problem():
    emu = make_standin(seed=3)
    cov = random_cov(18, seed=4, scale=0.5)
    obs = observe(emu, TRUTH, cov, seed=5, noise_cov=cov + np.diag(emu.aleatoric + emu.epistemic))
    return emu, obs, cov


def assert_matches_exact(result, names, mean, cov) -> None:
    """Posterior mean and covariance within Monte-Carlo error (bulk ESS) of the exact ones."""
    from inference.sampling.diagnostics import parameter_summary

    table = parameter_summary(result, names)
    draws = np.stack([np.asarray(result.samples[n], float).reshape(-1) for n in names])
    ess = min(table[n]["ess_bulk"] for n in names)
    assert ess > 300, table
    sample_cov = np.cov(draws)
    sd = np.sqrt(np.diag(cov))
    np.testing.assert_array_less(np.abs(draws.mean(axis=1) - mean), 4.5 * sd / np.sqrt(ess))
    tol = 4.5 * np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / ess)
    np.testing.assert_array_less(np.abs(sample_cov - cov), tol)
    # the check has teeth: an error of a fifth of a standard deviation would fail it
    assert np.all(0.2 * sd > 4.5 * sd / np.sqrt(ess))


@pytest.mark.parametrize("sampler", ["nuts", "emcee"])
def test_sampler_recovers_exact_posterior(problem, sampler: str) -> None:
    emu, obs, cov = problem
    like = build_likelihood(emu, obs, emulator_variance="both")
    settings = FitSettings(sampler=sampler, chains=4, warmup=400, samples=1000, seed=1, walkers=16)
    if sampler == "emcee":
        settings.warmup, settings.samples = 1500, 3000
    result = sample_posterior(like, settings, quiet=True)
    sigma = cov + np.diag(emu.aleatoric + emu.epistemic)
    mean, post_cov = exact_posterior(emu.A, emu.b, obs.data_vector(), sigma)
    assert np.all(np.abs(mean - TRUTH) < 5 * np.sqrt(np.diag(post_cov)))  # the data say something
    assert_matches_exact(result, like.space.free, mean, post_cov)


def test_fixed_parameter_stays_fixed_and_fit_directory(problem, tmp_path: Path) -> None:
    emu, obs, cov = problem
    like = build_likelihood(emu, obs, emulator_variance="epistemic", fix={"p1": -0.25})
    settings = FitSettings(chains=4, warmup=400, samples=1000, seed=2, fix={"p1": -0.25})
    result = sample_posterior(like, settings, quiet=True)
    assert set(result.samples) == {"p0", "p2"}
    # exact conditional posterior given p1 = -0.25, with the epistemic variance only
    sigma = cov + np.diag(emu.epistemic)
    A = emu.A.astype(float)
    mean, post_cov = exact_posterior(A[:, [0, 2]], emu.b + A[:, 1] * -0.25, obs.data_vector(), sigma)
    assert_matches_exact(result, ["p0", "p2"], mean, post_cov)

    summary = write_fit(like, result, tmp_path / "fit", settings, {"source": "test"}, obs.digest())
    files = {p.name for p in (tmp_path / "fit").iterdir()}
    assert files == {"posterior.nc", "summary.json", "corner.png", "ppc.png"}
    saved = json.loads((tmp_path / "fit" / "summary.json").read_text())
    assert saved["fixed"] == {"p1": -0.25} and set(saved["parameters"]) == {"p0", "p2"}
    assert saved["likelihood"]["emulator_variance"] == "epistemic"
    assert saved["run"]["data_hash"] == obs.digest() and saved["observation"] == {"source": "test"}
    assert abs(summary["parameters"]["p0"]["mean"] - mean[0]) < 0.2 * np.sqrt(post_cov[0, 0])


def test_nuts_posterior_includes_the_log_determinant() -> None:
    """Emulator variance rising with p0: the NUTS posterior mean is the exact one (grid, log det included),
    several Monte-Carlo errors away from the mean the likelihood would have without log det Σ. With the
    emulator covariance held at the mode, the posterior is the Gaussian of that fixed variance."""
    from inference.sampling.diagnostics import parameter_summary
    from tests.inference.ia.test_likelihood import varying_standin

    emu = varying_standin()
    cov = 1e-3 * np.eye(18)
    obs = observe(emu, np.zeros(3), cov, seed=4, noise_cov=np.diag(np.full(18, 0.7)))
    like = build_likelihood(emu, obs, emulator_variance="aleatoric", fix={"p1": 0.0, "p2": 0.0})
    rows = {
        choice: parameter_summary(
            sample_posterior(
                like,
                FitSettings(chains=4, warmup=300, samples=1000, seed=3, emulator_covariance=choice),
                quiet=True,
            ),
            ["p0"],
        )["p0"]
        for choice in ("varying", "fixed")
    }
    grid = np.linspace(-1, 1, 4001)
    d = obs.data_vector()
    var = 1e-3 + 0.3 * np.exp(1.5 * grid)
    chi2 = np.array([np.sum((d - emu.A[:, 0].astype(float) * p0 - emu.b) ** 2) for p0 in grid])
    mode_var = var[np.argmax(-0.5 * (chi2 / var + 18 * np.log(var)))]
    logp = {
        "varying": -0.5 * (chi2 / var + 18 * np.log(var)),
        "no log det": -0.5 * chi2 / var,
        "fixed": -0.5 * chi2 / mode_var,
    }
    means, sds = {}, {}
    for key, lp in logp.items():
        w = np.exp(lp - lp.max()) / np.sum(np.exp(lp - lp.max()))
        means[key] = np.sum(w * grid)
        sds[key] = np.sqrt(np.sum(w * (grid - means[key]) ** 2))
    for choice, row in rows.items():
        mc_error = row["sd"] / np.sqrt(row["ess_bulk"])
        assert abs(row["mean"] - means[choice]) < 4.5 * mc_error, choice
        assert row["sd"] == pytest.approx(sds[choice], rel=0.1), choice
    mc_error = rows["varying"]["sd"] / np.sqrt(rows["varying"]["ess_bulk"])
    assert abs(rows["varying"]["mean"] - means["no log det"]) > 20 * mc_error


# --- the command line: `iaemu fit` on a small emulator artifact ---------------------------------------------

BIN = Path(__import__("sys").executable).parent


def iaemu(*args: str) -> __import__("subprocess").CompletedProcess:
    import subprocess

    return subprocess.run([str(BIN / "iaemu"), *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    """A small (untrained) emulator artifact and an observation made from its own prediction."""
    import jax.numpy as jnp

    from emulators.ia.network import ModelConfig
    from inference.ia.emulator_jax import load_jax_emulator
    from inference.ia.observations import Observation, write_observation
    from tests.inference.ia.test_emulator_jax import HI, LO, make_artifact

    root = tmp_path_factory.mktemp("cli")
    make_artifact(
        root / "emu", ModelConfig(hidden=16, n_blocks=1, latent=16, dec_channels=[4, 4], n_bins=8), 2
    )
    emu = load_jax_emulator(root / "emu")
    pred = emu.predict(jnp.asarray(0.5 * (LO + HI)))
    mean = np.asarray(pred.mean, float)
    err = 0.05 * np.abs(mean) + 1e-3
    vals = {s: mean[i] for i, s in enumerate(("xi", "omega", "eta"))}
    good = Observation(emu.r, vals, np.diag(err.reshape(-1) ** 2), emu.r_edges, {"source": "test"})
    write_observation(good, root / "obs.h5")
    write_observation(good.select(("xi", "omega")), root / "no_eta.h5")
    shifted = Observation(emu.r * 1.05, vals, good.cov, None)
    write_observation(shifted, root / "bins.h5")
    import h5py

    for name, key, value in (
        ("nan.h5", "omega", np.where(np.arange(8) == 3, np.nan, vals["omega"])),
        ("notpd.h5", "cov", good.cov - 2 * np.diag(np.diag(good.cov)) * (np.arange(24) == 5)),
    ):
        write_observation(good, root / name)
        with h5py.File(root / name, "a") as f:
            del f[key]
            f[key] = value
    return root


@pytest.mark.parametrize(
    ("case", "args", "message"),
    [
        ("missing statistic", ["--tng", "no_eta.h5", "--stats", "xi,omega,eta"], "no_eta.h5: /eta: missing"),
        ("bins", ["--tng", "bins.h5"], "bins differ from the emulator's: "),
        (
            "not positive definite",
            ["--tng", "notpd.h5"],
            "notpd.h5: /cov: expected a positive-definite covariance",
        ),
        ("nan", ["--tng", "nan.h5"], "nan.h5: /omega: contains NaN or infinite values"),
        (
            "unknown fix",
            ["--tng", "obs.h5", "--fix", "logMmn=12"],
            "fix: unknown parameter 'logMmn' (expected one",
        ),
        (
            "fix outside prior",
            ["--tng", "obs.h5", "--fix", "alpha=1.5"],
            "fix: alpha=1.5 is outside the prior",
        ),
        (
            "chain method",
            ["--tng", "obs.h5", "--chain-method", "parallel"],
            "--chain-method: 'parallel': expected one of vectorized, sequential",
        ),
        (
            "emulator covariance",
            ["--tng", "obs.h5", "--emulator-covariance", "diagonal"],
            "--emulator-covariance: 'diagonal': expected one of varying, fixed",
        ),
    ],
)
def test_fit_refuses_bad_input_with_one_line(
    artifact: Path, case: str, args: list[str], message: str
) -> None:
    args = [a if not a.endswith(".h5") else str(artifact / a) for a in args]
    emu = ["--emulator", str(artifact / "emu")]
    out = artifact / f"fit-{case.replace(' ', '_')}"
    result = iaemu("fit", *args, *emu, "--out", str(out), "--quiet")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr, result.stderr
    if case == "bins":  # both binnings named
        assert lines[0].count("8 bins, r = ") == 2
    assert not out.exists() and not list(artifact.glob(f".{out.name}*"))


def test_fit_command_writes_the_fit_directory(artifact: Path) -> None:
    out = artifact / "fit"
    result = iaemu(
        "fit",
        "--tng",
        str(artifact / "obs.h5"),
        "--emulator",
        str(artifact / "emu"),
        "--out",
        str(out),
        "--fix",
        "logMmin=13",
        "--fix",
        "sigma_logM=0.5",
        "--prior",
        "mu_cen=-0.5,0.5",
        "--chains",
        "2",
        "--warmup",
        "150",
        "--samples",
        "150",
        "--seed",
        "3",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert {p.name for p in out.iterdir()} == {"posterior.nc", "summary.json", "corner.png", "ppc.png"}
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["parameters"]) == {"mu_cen", "mu_sat", "logM0", "logM1", "alpha"}
    assert summary["fixed"] == {"logMmin": 13.0, "sigma_logM": 0.5} and summary["prior"]["mu_cen"] == [
        -0.5,
        0.5,
    ]
    assert summary["observation"] == {"source": "test"} and summary["run"]["seed"] == 3
    import arviz as az

    post = az.from_netcdf(out / "posterior.nc").posterior
    assert float(post["mu_cen"].min()) >= -0.5 and float(post["mu_cen"].max()) <= 0.5  # the narrowed prior
    for name in summary["parameters"]:
        assert name in result.stdout
    assert "fixed: logMmin=13, sigma_logM=0.5" in result.stdout
    # the observation is the emulator's own noise-free prediction at the box's centre (the fixed values too):
    # the posterior finds it
    from tests.inference.ia.test_emulator_jax import HI, LO, NAMES

    truth = dict(zip(NAMES, 0.5 * (LO + HI), strict=True))
    for name, row in summary["parameters"].items():
        assert abs(row["mean"] - truth[name]) < 3 * row["sd"], (name, row, truth[name])

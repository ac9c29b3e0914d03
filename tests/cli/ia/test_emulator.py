"""`iaemu train`, `evaluate`, `calibrate-error` and `calibrate-scale` through the installed console script."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from safetensors.numpy import load_file

from tests.emulators.ia.synthetic import write_dataset

IAEMU = Path(sys.executable).parent / "iaemu"


def iaemu(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(IAEMU), *map(str, args)], capture_output=True, text=True, timeout=300)


def assert_one_line_exit_2(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("cli")
    done = np.ones(150, bool)
    done[[0, 1, 2]] = False
    mocks = write_dataset(folder / "mocks.h5", 150, 4, n_bins=6, seed=5, done=done)
    with h5py.File(mocks, "r+") as h5:
        omega = h5["omega"][()]
        omega[10, 2, 4] = np.nan
        h5["omega"][...] = omega
    refused = iaemu("train", mocks, "--out", folder / "emu", "--epochs", "3", "--quiet")
    assert_one_line_exit_2(refused, "mocks.h5", "NaN", "--drop-nan")
    assert not (folder / "emu").exists()
    result = iaemu(
        "train",
        mocks,
        "--out",
        folder / "emu",
        "--ensemble",
        "2",
        "--epochs",
        "4",
        "--seed",
        "3",
        "--device",
        "cpu",
        "--drop-nan",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    return mocks, folder / "emu"


def test_train_writes_the_artifact(trained: tuple[Path, Path]) -> None:
    mocks, emu = trained
    doc = json.loads((emu / "emulator.json").read_text())
    assert doc["param_names"] == ["a", "b", "c"] and doc["prior"] == {"lo": [-1.0] * 3, "hi": [1.0] * 3}
    assert doc["statistics"] == ["xi", "omega", "eta"] and len(doc["r"]) == 6 and len(doc["r_edges"]) == 7
    assert doc["ensemble"]["size"] == 2 and doc["variance"]["n_realisations"] == 4
    data = doc["training"]["data"]
    assert data["sha256"] == hashlib.sha256(mocks.read_bytes()).hexdigest()
    assert data["excluded"]["not_done"] == 3 and data["excluded"]["nan"] == 1 and data["rows_used"] == 146
    split = doc["training"]["split"]
    assert (
        split["train"] + split["validation"] + split["test"] == 146
        and len(split["test_rows"]) == split["test"]
    )
    assert set(doc["test_metrics"]) == {"xi", "omega", "eta"}
    noise = doc["noise"]  # estimated on the training rows; the synthetic noise is independent across bins
    corr = np.asarray(noise["correlation"])
    assert noise["rows"] == split["train"] and corr.shape == (18, 18)
    np.testing.assert_allclose(np.diag(corr), 1.0)
    assert np.abs(corr[~np.eye(18, dtype=bool)]).mean() < 0.1
    weights = load_file(emu / "weights.safetensors")
    assert {"member0.encoder.0.weight", "member1.encoder.0.weight"} <= set(weights)
    assert not any(k.startswith("member2.") for k in weights)
    assert not emu.with_name("emu.checkpoints").exists()


def test_evaluate_on_the_held_out_rows_and_on_another_file(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    mocks, emu = trained
    result = iaemu("evaluate", emu, mocks, "--out", tmp_path / "report", "--drop-nan")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    doc = json.loads((emu / "emulator.json").read_text())
    assert metrics["rows"] == doc["training"]["split"]["test"] and "held-out" in metrics["rows_used"]
    for name in ("xi", "omega", "eta"):
        m = metrics["summary"][name]
        assert 0 <= m["coverage_68"] <= m["coverage_95"] <= 1
        assert len(metrics["per_bin"][name]["coverage_68"]) == 6
    assert set(metrics["summary"]["xi"]["abs_err_over_xi"]) == {"p50", "p68", "p95", "p99"}
    assert "abs_err_over_sigma_sim" in metrics["summary"]["eta"]
    for png in ("predicted_vs_true.png", "error_per_bin.png", "zscores.png"):
        assert (tmp_path / "report" / png).read_bytes()[:4] == b"\x89PNG"
    other = write_dataset(tmp_path / "other.h5", 40, 4, n_bins=6, seed=9)
    result = iaemu("evaluate", emu, other, "--out", tmp_path / "report2")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "report2" / "metrics.json").read_text())
    assert metrics["rows"] == 40
    # coverage and |Δ|/σ_mean of ω recomputed here from the file and the emulator's prediction
    from scipy.stats import norm

    from emulators.ia.artifact import load_emulator

    with h5py.File(other) as h5:
        params, omega = h5["params"][()], h5["omega"][()]
    pred = load_emulator(emu).predict(params, n_realisations=4)
    delta = pred.mean[:, 1] - omega.mean(axis=1)
    z = np.abs(delta) / np.sqrt(pred.total[:, 1])
    summary = metrics["summary"]["omega"]
    for level in (68, 95):
        expected = np.mean(z < norm.ppf(0.5 + level / 200))
        assert summary[f"coverage_{level}"] == pytest.approx(expected, abs=1e-12)
    sem = omega.std(axis=1, ddof=1) / 2  # sqrt(4) realisations
    expected = np.median(np.abs(delta) / sem)
    assert summary["median_abs_err_over_sigma_mean"] == pytest.approx(expected, rel=1e-9)


def test_calibrate_error_writes_the_entry_and_the_likelihood_uses_it(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    import shutil

    from inference.ia.emulator_jax import load_jax_emulator

    mocks, trained_emu = trained
    emu = tmp_path / "emu"
    shutil.copytree(trained_emu, emu)
    before = load_jax_emulator(emu)
    assert before.error_covariance is None and before.digest() == before.sha256
    assert_one_line_exit_2(iaemu("calibrate-error", emu, mocks), "mocks.h5", "training file")
    other_bins = write_dataset(tmp_path / "bins.h5", 10, 4, n_bins=5)
    assert_one_line_exit_2(iaemu("calibrate-error", emu, other_bins), "bins.h5", "/r_edges")
    assert load_jax_emulator(emu).error_covariance is None  # nothing written by the refusals
    other = write_dataset(tmp_path / "other.h5", 60, 4, n_bins=6, seed=11)
    result = iaemu("calibrate-error", emu, other, "--amplitude")
    assert result.returncode == 0, result.stderr
    assert "emulator error on 60 independent rows" in result.stdout
    after = load_jax_emulator(emu)
    entry = after.doc["emulator_error"]
    assert entry["rows"] == 60 and entry["mocks_sha256"] == hashlib.sha256(other.read_bytes()).hexdigest()
    err = after.error_covariance
    assert err.shape == (18, 18) and np.linalg.eigvalsh(err).min() > -1e-4
    from emulators.ia.artifact import load_emulator
    from emulators.ia.error import emulator_error

    # the CLI wrote the estimator's value (its numbers are tested in tests/emulators/ia/test_error.py)
    in_process = emulator_error(load_emulator(trained_emu), other)
    np.testing.assert_allclose(err, np.asarray(in_process["covariance"]), atol=1e-5)
    assert in_process["amplitude"] is None  # a(θ) only on request
    assert np.abs(err).max() > 1e-3  # a small, briefly trained emulator misses its mocks: E is not zero
    # the amplitude a(θ) = exp(c0 + c·x), x the parameters scaled to [-1, 1] on the scalers' prior box
    coef = np.asarray(entry["amplitude"]["coefficients"])
    assert coef.shape == (len(after.param_names) + 1,)
    lo, hi = (np.asarray(after.doc["scalers"][k]) for k in ("prior_lo", "prior_hi"))
    theta = lo + np.array([0.2, 0.9, 0.5])[: len(lo)] * (hi - lo)
    expected = np.exp(coef[0] + coef[1:] @ (2 * (theta - lo) / (hi - lo) - 1))
    assert float(after.covariance_amplitude(theta)) == pytest.approx(expected, rel=1e-5)
    assert after.sha256 == before.sha256 and after.digest() != before.digest()  # same weights, new key


def test_evaluate_refuses_other_bins(trained: tuple[Path, Path], tmp_path: Path) -> None:
    _, emu = trained
    other = write_dataset(tmp_path / "other.h5", 10, 4, n_bins=5)
    assert_one_line_exit_2(iaemu("evaluate", emu, other, "--out", tmp_path / "r"), "/r:", "differ")
    assert_one_line_exit_2(
        iaemu("evaluate", tmp_path, other, "--out", tmp_path / "r"), "emulator.json missing"
    )
    assert not (tmp_path / "r").exists()


def test_bad_datasets_exit_2(tmp_path: Path) -> None:
    missing = write_dataset(tmp_path / "missing.h5", 10, 4, drop=("omega",))
    assert_one_line_exit_2(iaemu("train", missing, "--out", tmp_path / "e"), "missing.h5", "/omega: missing")
    shapes = write_dataset(tmp_path / "shapes.h5", 10, 4)
    with h5py.File(shapes, "r+") as h5:
        del h5["eta"]
        h5["eta"] = np.zeros((10, 4, 7))
    assert_one_line_exit_2(iaemu("train", shapes, "--out", tmp_path / "e"), "/eta: expected shape (10, R, 8)")
    fine = write_dataset(tmp_path / "fine.h5", 10, 4)
    assert_one_line_exit_2(
        iaemu("train", fine, "--out", tmp_path / "e", "--error-mocks", tmp_path / "absent.h5"),
        "independent mocks", "absent.h5", "no such mock file",
    )
    assert not (tmp_path / "e").exists()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the refusal without a GPU")
def test_cuda_without_a_gpu_exits_2(tmp_path: Path) -> None:
    mocks = write_dataset(tmp_path / "m.h5", 20, 4)
    assert_one_line_exit_2(
        iaemu("train", mocks, "--out", tmp_path / "e", "--device", "cuda"), "no CUDA device"
    )


def _validation_dir(folder: Path, digest: str, mocks_sha: str, names: list[str], u: np.ndarray,
                    sd: np.ndarray | None) -> Path:
    """An `iaemu validate` output as calibrate-scale reads it: coverage.json's run block, injections.csv with
    NAME_truth (0, the centre of the synthetic emulator's box, far from its edges for these posteriors),
    NAME_u and (unless ``sd`` is None) NAME_sd columns."""
    folder.mkdir()
    run = {"emulator_digest": digest, "held_out_sha256": mocks_sha, "n_injections": len(u)}
    (folder / "coverage.json").write_text(json.dumps({"run": run}))
    columns = [f"{n}_{kind}" for kind in ("truth", "u") for n in names]
    columns += [] if sd is None else [f"{n}_sd" for n in names]
    table = np.hstack([np.zeros_like(u), u] + ([] if sd is None else [sd]))
    lines = [",".join(["row", *columns])]
    lines += [",".join([str(j)] + [f"{v:.8g}" for v in row]) for j, row in enumerate(table)]
    (folder / "injections.csv").write_text("\n".join(lines) + "\n")
    return folder


def _posteriors(n: int, kappa: float, extra: np.ndarray, fitted_with: float, seed: int) -> tuple:
    """u and sd of n injections × P Gaussian posteriors fitted with κ = ``fitted_with`` whose truths
    scatter about their means with variance κ v + D (v: the posterior variance at κ = 1)."""
    from scipy.stats import norm

    rng = np.random.default_rng(seed)
    variance = rng.lognormal(-4.0, 0.5, (n, len(extra)))
    error = rng.standard_normal(variance.shape) * np.sqrt(kappa * variance + extra)
    sd = np.sqrt(fitted_with * variance)
    return norm.cdf(error / sd), sd


def test_calibrate_scale_writes_kappa_and_d_and_the_emulator_loads_them(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    """κ and D measured on two validations (posteriors too narrow by κ = 2 with D on one parameter), one
    fitted uncalibrated and one under an earlier κ-only calibration of the artifact, are written into the
    emulator-error entry with the calibration before kept; a validation of a state the artifact never had,
    one on the training file, one without sd columns, one fitted with a D, and an artifact without an
    error entry each give one line and exit 2 and write nothing."""
    import shutil

    from inference.ia.emulator_jax import load_jax_emulator
    from inference.ia.posterior_calibration import scale_steps

    mocks, trained_emu = trained
    emu = tmp_path / "emu"
    shutil.copytree(trained_emu, emu)
    names = list(load_jax_emulator(emu).param_names)
    extra = np.zeros(len(names))
    extra[-1] = 0.02
    u, sd = _posteriors(3000, 2.0, extra, 1.0, seed=8)
    sha = hashlib.sha256
    bare = _validation_dir(tmp_path / "bare", load_jax_emulator(emu).digest(), "x", names, u, sd)
    assert_one_line_exit_2(iaemu("calibrate-scale", emu, bare), "no emulator_error entry")
    other = write_dataset(tmp_path / "other.h5", 60, 4, n_bins=6, seed=11)
    assert iaemu("calibrate-error", emu, other).returncode == 0
    digest, other_sha = load_jax_emulator(emu).digest(), sha(other.read_bytes()).hexdigest()
    before = load_jax_emulator(trained_emu).digest()
    stale = _validation_dir(tmp_path / "stale", before, other_sha, names, u, sd)
    assert_one_line_exit_2(iaemu("calibrate-scale", emu, stale), "run.emulator_digest")
    mocks_sha = sha(mocks.read_bytes()).hexdigest()
    training = _validation_dir(tmp_path / "training", digest, mocks_sha, names, u, sd)
    assert_one_line_exit_2(iaemu("calibrate-scale", emu, training), "training file")
    no_sd = _validation_dir(tmp_path / "no_sd", digest, other_sha, names, u, None)
    assert_one_line_exit_2(iaemu("calibrate-scale", emu, no_sd), "_sd missing")
    assert load_jax_emulator(emu).covariance_scale == 1.0  # nothing written by the refusals
    first = _validation_dir(tmp_path / "first", digest, other_sha, names, u, sd)
    # an earlier calibration with κ alone, as older versions wrote it, and fits made under it
    doc = json.loads((emu / "emulator.json").read_text())
    doc["emulator_error"]["covariance_scale"] = {"value": 1.5, "injections": 10}
    (emu / "emulator.json").write_text(json.dumps(doc))
    u2, sd2 = _posteriors(2000, 2.0, extra, 1.5, seed=9)
    second = _validation_dir(tmp_path / "second", load_jax_emulator(emu).digest(), other_sha, names, u2, sd2)
    result = iaemu("calibrate-scale", emu, first, second)
    assert result.returncode == 0, result.stderr
    widened = result.stdout.split("parameter sd √D: ")[1].split(" (from 3000 + 2000 injections")[0]
    assert names[-1] in [item.split()[0] for item in widened.split(", ")]  # the parameter given a D
    after = load_jax_emulator(emu)
    scale = after.doc["emulator_error"]["covariance_scale"]
    assert after.covariance_scale == pytest.approx(2.0, rel=0.05)
    np.testing.assert_allclose(after.parameter_variance, extra, atol=0.004)
    # the 5000 fits' own 68% coverage under the stored κ and D, printed and stored: nominal
    stored = np.array(list(scale["coverage_68_95"].values()))
    np.testing.assert_allclose(stored[:, 0], 0.68, atol=0.01)
    assert f"{names[-1]} {stored[-1, 0]:.3f}/{stored[-1, 1]:.3f}" in result.stdout
    assert [v["fitted_with_scale"] for v in scale["validations"]] == [1.0, 1.5]
    assert scale["previous"] == {"value": 1.5, "injections": 10}
    assert scale_steps(scale) == [3000, 2000]
    # fits made with a D cannot be rescaled by κ alone: refused
    third = _validation_dir(tmp_path / "third", after.digest(), other_sha, names, u, sd)
    assert_one_line_exit_2(iaemu("calibrate-scale", emu, third), "parameter variance")
    assert load_jax_emulator(emu).doc["emulator_error"]["covariance_scale"] == scale
    # measured again on the same fits, whose calibrations now sit deeper in the history: the same κ and D
    assert iaemu("calibrate-scale", emu, first, second).returncode == 0
    again = load_jax_emulator(emu).doc["emulator_error"]["covariance_scale"]
    assert [v["fitted_with_scale"] for v in again["validations"]] == [1.0, 1.5]
    assert again["value"] == scale["value"] and again["parameter_variance"] == scale["parameter_variance"]
    assert again["previous"] == scale

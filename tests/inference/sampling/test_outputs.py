"""The fit directory (docs/ARCHITECTURE.md 3.5) read back: posterior.nc, summary.json, corner.png, the fit's
own plot."""

import json
from dataclasses import replace
from pathlib import Path

import arviz as az
import numpy as np
import pytest

from common.hashing import hash_arrays
from inference.sampling.nuts import SamplerResult
from inference.sampling.outputs import convergence_warning, fit_summary, format_table, write_fit_directory

QUANTILE_KEYS = ["q2.5", "q16", "q50", "q84", "q97.5"]


@pytest.fixture
def result() -> SamplerResult:
    rng = np.random.default_rng(0)
    samples = {"a": rng.normal(1.0, 0.1, (2, 300)), "v": rng.normal(0.0, 1.0, (2, 300, 2))}
    diverging = np.zeros((2, 300), bool)
    diverging[1, 5] = True
    stats = {"diverging": diverging, "num_steps": rng.integers(1, 8, (2, 300))}
    settings = {"sampler": "nuts", "chains": 2, "warmup": 100, "samples": 300, "batch": None}
    return SamplerResult("nuts", samples, stats, 3.0, 1.5, int(stats["num_steps"].sum()) + 500,
                         int(stats["num_steps"].sum()) + 500, settings)


def write_png(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots()
    axis.plot([0, 1], [0, 1])
    figure.savefig(path)
    plt.close(figure)


def test_fit_directory_reads_back(tmp_path: Path, result: SamplerResult) -> None:
    out = tmp_path / "fit"
    data = np.arange(5.0)
    write_fit_directory(out, result, seed=11, data_hash=hash_arrays(data), model_hash="m" * 64,
                        corner_vars=["a"], plots={"ppc.png": write_png}, extra={"note": "x"})
    assert sorted(p.name for p in out.iterdir()) == ["corner.png", "posterior.nc", "ppc.png", "summary.json"]
    for name in ("corner.png", "ppc.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    idata = az.from_netcdf(out / "posterior.nc")
    np.testing.assert_array_equal(idata.posterior["a"].values, result.samples["a"])
    np.testing.assert_array_equal(idata.posterior["v"].values, result.samples["v"])
    np.testing.assert_array_equal(idata.sample_stats["diverging"].values, result.sample_stats["diverging"])
    np.testing.assert_array_equal(idata.sample_stats["num_steps"].values, result.sample_stats["num_steps"])

    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["parameters"]) == ["a", "v[0]", "v[1]"]
    a = summary["parameters"]["a"]
    expected = np.percentile(result.samples["a"], [2.5, 16, 50, 84, 97.5])
    np.testing.assert_allclose([a[k] for k in QUANTILE_KEYS], expected, rtol=1e-12)
    assert a["mean"] == pytest.approx(result.samples["a"].mean(), rel=1e-12)
    assert a["sd"] == pytest.approx(result.samples["a"].std(ddof=1), rel=1e-12)
    assert a["r_hat"] == pytest.approx(float(az.rhat(result.samples["a"])), rel=1e-9)
    assert a["ess_tail"] == pytest.approx(float(az.ess(result.samples["a"], method="tail")), rel=1e-9)
    v1 = summary["parameters"]["v[1]"]
    expected_ess = float(az.ess(result.samples["v"][..., 1], method="bulk"))
    assert v1["ess_bulk"] == pytest.approx(expected_ess, rel=1e-9)

    run = summary["run"]
    min_ess = min(row["ess_bulk"] for row in summary["parameters"].values())
    assert run["divergences"] == 1 and run["seed"] == 11
    assert run["wall_time_s"] == 3.0 and run["compile_time_s"] == 1.5
    assert run["ess_per_s"] == pytest.approx(min_ess / 3.0)
    assert run["ess_per_gradient"] == pytest.approx(min_ess / result.n_gradient_evals)
    assert run["data_hash"] == hash_arrays(np.arange(5.0)) != hash_arrays(np.arange(6.0))
    assert run["model_hash"] == "m" * 64 and run["settings"]["warmup"] == 100
    assert {"numpyro", "jax", "arviz", "iaemu"} <= set(run["versions"])
    assert summary["note"] == "x"


def test_a_failing_plot_leaves_the_old_directory(tmp_path: Path, result: SamplerResult) -> None:
    out = tmp_path / "fit"
    out.mkdir()
    (out / "old.txt").write_text("previous fit")

    def broken(path: Path) -> None:
        path.write_text("half")
        raise RuntimeError("plot failed")

    with pytest.raises(RuntimeError):
        write_fit_directory(out, result, seed=0, data_hash="d", model_hash="m", plots={"ppc.png": broken})
    assert [p.name for p in tmp_path.iterdir()] == ["fit"]  # no temporary directory left behind
    assert [p.name for p in out.iterdir()] == ["old.txt"]


def test_terminal_table_has_one_row_per_parameter(tmp_path: Path, result: SamplerResult) -> None:
    summary = write_fit_directory(tmp_path / "fit", result, seed=0, data_hash="d", model_hash="m")
    lines = format_table(summary).splitlines()
    rows = {line.split()[0]: line.split() for line in lines[1:-1]}
    assert set(rows) == {"a", "v[0]", "v[1]"}
    a = summary["parameters"]["a"]
    assert float(rows["a"][1]) == pytest.approx(a["mean"], rel=1e-3)
    assert rows["a"][3] == f"[{a['q16']:.4g}," and rows["a"][4] == f"{a['q84']:.4g}]"
    assert "1 divergences" in lines[-1]



def test_convergence_warning_names_the_unmixed_parameter(result: SamplerResult) -> None:
    """Two chains of ``v`` around different means have R-hat near √2 (between-chain variance 1, as the
    within-chain one): a run that went on for R-hat < 1.01 is warned of, naming that element; well-mixed
    draws, a looser target, a fixed budget (no target) and emcee walkers give no warning."""
    targeted = replace(result, settings=dict(result.settings, rhat_target=1.01))
    mixed = fit_summary(targeted, seed=0, data_hash="d", model_hash="m")
    assert mixed["run"]["max_r_hat"] < 1.01
    assert convergence_warning(mixed) is None

    split = dict(result.samples, v=result.samples["v"] + np.array([-1.0, 1.0])[:, None, None] * [0.0, 1.0])
    stuck = fit_summary(replace(targeted, samples=split), seed=0, data_hash="d", model_hash="m")
    line = convergence_warning(stuck)
    assert stuck["parameters"]["v[1]"]["r_hat"] > 1.3
    assert line is not None and "v[1]" in line and "300 draws per chain" in line and "below 1.01" in line

    def with_target(target: float | None) -> dict:
        settings = dict(stuck["run"]["settings"], rhat_target=target)
        return dict(stuck, run=dict(stuck["run"], settings=settings))

    assert convergence_warning(with_target(5.0)) is None and convergence_warning(with_target(None)) is None
    assert convergence_warning(dict(stuck, run=dict(stuck["run"], sampler="emcee"))) is None

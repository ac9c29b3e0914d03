"""Diagnostics against independent computations: AR(1) ESS, R-hat of disagreeing chains, known quantiles."""

import numpy as np
from scipy import stats

from inference.sampling.diagnostics import parameter_summary, run_diagnostics, to_inference_data
from inference.sampling.nuts import SamplerResult


def result_of(samples: dict, *, diverging=None, wall=2.0, grads=10_000) -> SamplerResult:
    chains, draws = next(iter(samples.values())).shape[:2]
    diverging = np.zeros((chains, draws), bool) if diverging is None else diverging
    stats_ = {"diverging": diverging, "num_steps": np.full((chains, draws), 3)}
    return SamplerResult("nuts", samples, stats_, wall, 1.0, grads, grads, {"batch": None})


def ar1(rng: np.random.Generator, rho: float, chains: int, draws: int) -> np.ndarray:
    x = np.empty((chains, draws))
    x[:, 0] = rng.standard_normal(chains)
    noise = rng.standard_normal((chains, draws)) * np.sqrt(1 - rho**2)
    for t in range(1, draws):
        x[:, t] = rho * x[:, t - 1] + noise[:, t]
    return x


def test_bulk_ess_of_an_ar1_chain_matches_its_integrated_autocorrelation() -> None:
    rho, chains, draws = 0.8, 4, 20_000
    x = ar1(np.random.default_rng(1), rho, chains, draws)
    expected = chains * draws * (1 - rho) / (1 + rho)  # N / tau for AR(1)
    row = parameter_summary(result_of({"a": x}))["a"]
    assert abs(row["ess_bulk"] / expected - 1) < 0.1, (row["ess_bulk"], expected)
    assert row["r_hat"] < 1.01


def test_r_hat_flags_chains_that_disagree() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 1000)) + np.array([[0.0], [0.0], [0.0], [3.0]])
    # classic R-hat: sqrt(1 + var of chain means) = 1.8; the rank-normalised one is lower but far above 1.01
    assert parameter_summary(result_of({"a": x}))["a"]["r_hat"] > 1.3


def test_quantiles_mean_and_sd_of_known_draws() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(2.0, 0.5, size=(4, 50_000))
    row = parameter_summary(result_of({"a": x}))["a"]
    for q in (2.5, 16, 50, 84, 97.5):
        assert abs(row[f"q{q:g}"] - stats.norm.ppf(q / 100, 2.0, 0.5)) < 0.01
    assert abs(row["mean"] - 2.0) < 0.01 and abs(row["sd"] - 0.5) < 0.01


def test_vector_parameters_are_reported_per_element() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 500, 3)) + np.array([0.0, 10.0, -10.0])
    table = parameter_summary(result_of({"g": x}))
    assert list(table) == ["g[0]", "g[1]", "g[2]"]
    assert [round(table[k]["mean"]) for k in table] == [0, 10, -10]


def test_run_diagnostics_counts_divergences_and_efficiencies() -> None:
    rng = np.random.default_rng(5)
    samples = {"a": rng.standard_normal((2, 1000)), "b": ar1(rng, 0.9, 2, 1000)}
    diverging = np.zeros((2, 1000), bool)
    diverging[0, [3, 70]] = diverging[1, 999] = True
    result = result_of(samples, diverging=diverging, wall=4.0, grads=20_000)
    table = parameter_summary(result)
    diag = run_diagnostics(result)
    assert diag["divergences"] == 3
    worst = min(table["a"]["ess_bulk"], table["b"]["ess_bulk"])
    assert diag["min_ess_bulk"] == worst == table["b"]["ess_bulk"]
    assert diag["ess_per_s"] == worst / 4.0 and diag["ess_per_gradient"] == worst / 20_000
    assert diag["max_r_hat"] == max(table["a"]["r_hat"], table["b"]["r_hat"])
    assert (diag["chains"], diag["draws_per_chain"]) == (2, 1000)


def test_inference_data_carries_draws_and_sample_stats() -> None:
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 20, 2))
    idata = to_inference_data(result_of({"x": x}))
    np.testing.assert_array_equal(idata.posterior["x"].values, x)
    assert idata.sample_stats["diverging"].shape == (3, 20)
    assert int(idata.sample_stats["num_steps"].sum()) == 3 * 20 * 3

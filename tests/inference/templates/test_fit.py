"""The template fit: Asimov recovery, the analytic one-bin posterior, coverage over Poisson toys, outputs."""

import json
from pathlib import Path

import arviz as az
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.handlers import condition
from scipy import stats

from inference.sampling.nuts import run_nuts
from inference.templates.fit import fit_histograms, fit_signal_fraction, fit_toys, write_template_fit
from inference.templates.histograms import Histogram
from inference.templates.likelihood import TemplateData, template_model

# settings shared by the single fits below, so that they share one compiled sampler
FIT = {"chains": 2, "warmup": 300, "samples": 500, "quiet": True}


def known_shapes(n_bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges and the exact bin fractions of signal density 2x and background density 2(1 - x) on [0, 1]."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    signal = np.diff(edges**2)
    background = np.diff(2 * edges - edges**2)
    return edges, signal, background


@pytest.mark.parametrize("fraction", [0.05, 0.5])
def test_asimov_data_return_the_injected_fraction(fraction: float) -> None:
    edges, s, b = known_shapes(8)
    n_mc, n_data = 50_000.0, 20_000.0
    signal, background = Histogram(edges, s * n_mc, s * n_mc), Histogram(edges, b * n_mc, b * n_mc)
    asimov = n_data * (fraction * s + (1 - fraction) * b)
    fit = fit_histograms(Histogram(edges, asimov, asimov, "asimov"), signal, background, seed=1, **FIT)
    f = fit.fraction
    assert abs(np.median(f) - fraction) < 0.1 * f.std(), (np.median(f), f.std())
    total = np.asarray(fit.sampler.samples["n_total"]).ravel()
    assert abs(np.median(total) - n_data) < 0.1 * total.std()
    assert fit.sampler.sample_stats["diverging"].sum() == 0


def test_one_bin_posterior_matches_the_analytic_gamma() -> None:
    # one bin, known background b, flat prior on nu_s >= 0, no template uncertainty:
    # p(nu_s | n) ∝ (nu_s + b)^n exp(-(nu_s + b)), i.e. nu_s + b ~ Gamma(n + 1) truncated to >= b
    n, b = 25.0, 10.0
    data = TemplateData(*(jnp.array([v]) for v in (n, 1.0, 0.0, 1.0, 0.0)))
    model = condition(lambda d: template_model(d, template_uncertainty=False), data={"nu_b": jnp.array(b)})
    result = run_nuts(model, model_args=(data,), chains=4, warmup=500, samples=2000, seed=2, quiet=True,
                      init={"nu_s": n - b})
    nu_s = np.asarray(result.samples["nu_s"], dtype=np.float64)
    gamma = stats.gamma(n + 1)
    ess = float(az.ess(nu_s, method="bulk"))
    for q in (0.05, 0.16, 0.5, 0.84, 0.95):
        exact = gamma.ppf(gamma.cdf(b) + q * gamma.sf(b)) - b
        density = gamma.pdf(exact + b) / gamma.sf(b)
        error = np.sqrt(q * (1 - q) / ess) / density  # standard error of a sample quantile
        assert abs(np.quantile(nu_s, q) - exact) < 4 * error, (q, np.quantile(nu_s, q), exact, error)
    mean = gamma.expect(lambda x: x - b, lb=b, conditional=True)
    assert abs(nu_s.mean() - mean) < 4 * nu_s.std() / np.sqrt(ess), (nu_s.mean(), mean)


def toy_coverage(n_toys: int, fraction: float, n_data: float, n_mc: int, *, template_uncertainty: bool = True,
                 seed: int = 0, **settings) -> dict[float, float]:
    """Fraction of Poisson toys whose equal-tailed 68% and 95% intervals of f contain the truth.

    Every toy draws its own data (Poisson) and its own MC templates (n_mc jets each, multinomial).
    """
    edges, s, b = known_shapes(5)
    rng = np.random.default_rng(seed)
    counts = rng.poisson(n_data * (fraction * s + (1 - fraction) * b), size=(n_toys, s.size))
    k_s, k_b = rng.multinomial(n_mc, s, size=n_toys), rng.multinomial(n_mc, b, size=n_toys)
    templates = TemplateData(None, k_s / n_mc, np.sqrt(k_s) / n_mc, k_b / n_mc, np.sqrt(k_b) / n_mc)
    result = fit_toys(counts, templates, template_uncertainty=template_uncertainty, seed=seed, quiet=True,
                      **settings)
    f = np.asarray(result.samples["f"], dtype=np.float64).reshape(n_toys, -1)
    coverage = {}
    for level in (0.68, 0.95):
        low, high = np.quantile(f, [(1 - level) / 2, (1 + level) / 2], axis=1)
        coverage[level] = float(np.mean((low < fraction) & (fraction < high)))
    return coverage


def test_intervals_cover_the_truth_over_400_toys() -> None:
    # MC templates as large as the data: their fluctuations matter, and the nuisances must absorb them
    coverage = toy_coverage(400, 0.3, 2000.0, 2000, chains=1, warmup=200, samples=400, seed=3)
    assert abs(coverage[0.68] - 0.68) <= 0.07, coverage
    assert abs(coverage[0.95] - 0.95) <= 0.07, coverage


@pytest.mark.slow
@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.5])
def test_intervals_cover_the_truth_over_1000_toys(fraction: float) -> None:
    coverage = toy_coverage(1000, fraction, 2000.0, 2000, chains=2, warmup=300, samples=600, seed=4)
    print(f"coverage f={fraction}: {coverage}")
    assert abs(coverage[0.68] - 0.68) <= 0.07, coverage
    assert abs(coverage[0.95] - 0.95) <= 0.07, coverage


@pytest.mark.slow
def test_without_the_nuisances_small_templates_undercover() -> None:
    # templates with half as many jets as the data: ignoring their MC error makes intervals too short
    settings = {"chains": 2, "warmup": 300, "samples": 600, "seed": 5}
    with_nuisances = toy_coverage(1000, 0.3, 4000.0, 2000, **settings)
    without = toy_coverage(1000, 0.3, 4000.0, 2000, template_uncertainty=False, **settings)
    print(f"coverage with Barlow-Beeston lite {with_nuisances}, without {without}")
    assert abs(with_nuisances[0.68] - 0.68) <= 0.07 and abs(with_nuisances[0.95] - 0.95) <= 0.07
    assert without[0.68] < with_nuisances[0.68] - 0.1


def test_fit_of_scores_writes_the_outputs(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    fraction, n_data = 0.2, 3000
    n_top = rng.binomial(n_data, fraction)
    data = np.concatenate([rng.beta(5, 2, n_top), rng.beta(2, 5, n_data - n_top)])
    fit = fit_signal_fraction(data, rng.beta(5, 2, 5000), rng.beta(2, 5, 5000), bins=8, seed=7, **FIT)
    low, high = fit.interval(0.95)
    assert low < n_top / n_data < high and high - low < 0.1
    summary = write_template_fit(fit, tmp_path / "fit", seed=7, data_hash="d", model_hash="m")
    assert sorted(p.name for p in (tmp_path / "fit").iterdir()) == [
        "corner.png", "posterior.nc", "ppc.png", "summary.json"]
    on_disk = json.loads((tmp_path / "fit" / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(summary))
    assert {"f", "nu_s", "nu_b", "gamma[0]", "gamma[7]"} <= set(on_disk["parameters"])
    assert on_disk["parameters"]["f"]["q2.5"] == pytest.approx(low)
    assert on_disk["templates"]["data_counts"] == fit.data.counts.tolist() and sum(fit.data.counts) == n_data
    posterior = az.from_netcdf(tmp_path / "fit" / "posterior.nc").posterior
    np.testing.assert_array_equal(posterior["f"].values, fit.sampler.samples["f"])
    # the derived fraction is nu_s / (nu_s + nu_b), draw by draw
    np.testing.assert_allclose(posterior["f"], posterior["nu_s"] / (posterior["nu_s"] + posterior["nu_b"]),
                               rtol=1e-5)

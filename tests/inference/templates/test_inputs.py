"""Templates from score histograms: fractions, MC errors, binning, and bad input refused with InputError."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from common.errors import InputError
from inference.templates.histograms import Histogram, histogram, make_templates, score_edges
from inference.templates.likelihood import (
    TemplateData,
    poisson_log_likelihood,
    relative_mc_error,
    template_data,
)


def test_templates_are_normalised_with_poisson_mc_errors() -> None:
    edges = np.array([0.0, 0.25, 0.5, 1.0])
    signal = histogram(np.array([0.1, 0.3, 0.3, 0.6, 0.7, 0.9, 1.0, 0.2]), edges, source="sig")
    background = histogram(np.array([0.05, 0.1, 0.3, 0.4, 0.0]), edges, source="bkg")
    np.testing.assert_array_equal(signal.counts, [2, 2, 4])  # the last bin is closed: 1.0 counts
    t = make_templates(signal, background)
    np.testing.assert_allclose(t.signal, [2 / 8, 2 / 8, 4 / 8])
    np.testing.assert_allclose(t.signal_err, np.sqrt([2, 2, 4]) / 8)
    np.testing.assert_allclose(t.background, [3 / 5, 2 / 5, 0])
    np.testing.assert_allclose(t.background_err, np.sqrt([3, 2, 0]) / 5)


def test_weighted_histogram_errors_use_the_sum_of_squared_weights() -> None:
    h = histogram(np.array([0.1, 0.2, 0.8]), np.array([0.0, 0.5, 1.0]), weights=np.array([2.0, 3.0, 0.5]))
    np.testing.assert_allclose(h.counts, [5.0, 0.5])
    np.testing.assert_allclose(h.sumw2, [13.0, 0.25])


def test_equal_population_edges_cover_every_sample() -> None:
    rng = np.random.default_rng(0)
    signal, background = rng.beta(5, 2, 3000), rng.beta(2, 5, 3000)
    data = np.array([0.0001, 0.9999])
    edges = score_edges(6, signal, background, data)
    assert edges.size == 7 and edges[0] == data[0] and edges[-1] == data[-1]
    pooled = np.histogram(np.concatenate([signal, background]), edges)[0]
    assert np.all(np.abs(pooled - 1000) <= 1)  # equal population of the pooled MC


def test_relative_mc_error_of_the_summed_template() -> None:
    data = TemplateData(jnp.zeros(2), jnp.array([0.5, 0.5]), jnp.array([0.05, 0.01]), jnp.array([0.2, 0.8]),
                        jnp.array([0.02, 0.04]))
    got = relative_mc_error(data, 100.0, 300.0)
    expected = np.hypot([100 * 0.05, 100 * 0.01], [300 * 0.02, 300 * 0.04]) / np.array([110.0, 290.0])
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_poisson_log_likelihood_differs_from_scipy_by_a_constant() -> None:
    counts = np.array([0.0, 3.0, 120.0, 7.0])
    one, two = np.array([0.5, 2.0, 100.0, 9.0]), np.array([1.5, 4.0, 130.0, 6.0])
    ours = [float(poisson_log_likelihood(jnp.asarray(counts), jnp.asarray(mu))) for mu in (one, two)]
    scipy = [stats.poisson.logpmf(counts, mu).sum() for mu in (one, two)]
    assert ours[0] - ours[1] == pytest.approx(scipy[0] - scipy[1], abs=1e-4)  # float32
    assert float(poisson_log_likelihood(jnp.asarray(counts), jnp.asarray(counts))) == 0.0


def test_empty_templates_are_refused() -> None:
    edges = np.array([0.0, 0.5, 1.0])
    good = histogram(np.array([0.2, 0.7]), edges, source="bkg.root")
    with pytest.raises(InputError, match="sig.root: scores: expected at least one jet"):
        histogram(np.array([]), edges, source="sig.root")
    empty = Histogram(edges, np.zeros(2), np.zeros(2), source="sig.root")
    with pytest.raises(InputError, match="sig.root: signal template: expected at least one jet"):
        make_templates(empty, good)


def test_bins_empty_in_both_templates_are_refused() -> None:
    edges = np.array([0.0, 0.3, 0.6, 1.0])
    signal = histogram(np.array([0.1, 0.9]), edges, source="s")
    background = histogram(np.array([0.2, 0.95]), edges, source="b")
    with pytest.raises(InputError, match=r"bins \[1\] are empty in both"):
        make_templates(signal, background)


def test_mismatched_binning_is_refused() -> None:
    a = histogram(np.array([0.1, 0.9]), np.array([0.0, 0.5, 1.0]), source="sig.root")
    b = histogram(np.array([0.1, 0.9]), np.array([0.0, 0.4, 1.0]), source="bkg.root")
    with pytest.raises(InputError, match="bkg.root: bins: expected the binning of sig.root"):
        make_templates(a, b)
    t = make_templates(a, a)
    data = histogram(np.array([0.3]), np.array([0.0, 0.3, 0.6, 1.0]), source="mixed.root")
    with pytest.raises(InputError, match="mixed.root: bins: .* got 3 bins"):
        template_data(data, t)


def test_bad_scores_and_edges_are_refused() -> None:
    with pytest.raises(InputError, match="data: scores: 1 jets outside"):
        histogram(np.array([0.5, 1.2]), np.array([0.0, 1.0]), source="data")
    with pytest.raises(InputError, match="finite"):
        histogram(np.array([0.5, np.nan]), np.array([0.0, 1.0]))
    with pytest.raises(InputError, match="strictly increasing"):
        score_edges([0.0, 0.5, 0.5, 1.0], np.ones(3), np.ones(3))
    with pytest.raises(InputError, match="bins: expected"):
        score_edges(0, np.ones(3), np.ones(3))

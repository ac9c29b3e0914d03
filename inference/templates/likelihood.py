"""Binned template likelihood in numpyro, with Barlow–Beeston-lite nuisances for the templates' MC error.

Data counts per bin i of the tagger score: n_i ~ Poisson(γ_i · (ν_s S_i + ν_b B_i)), with S, B the
normalised signal and background templates (:mod:`inference.templates.histograms`). Parametrisation:

- ν_s, ν_b (sites `nu_s`, `nu_b`): the expected numbers of signal and background jets in the data sample,
  flat priors on [0, ∞). The signal fraction f = ν_s / (ν_s + ν_b) and the total ν_s + ν_b are derived
  (deterministic sites `f`, `n_total`); the flat prior on (ν_s, ν_b) implies a uniform prior on f.
- Barlow–Beeston lite: one multiplicative nuisance per bin, γ_i = 1 + σ_i z_i with z_i ~ Normal(0, 1)
  (site `gamma_z`; `gamma` is deterministic), i.e. a Gaussian constraint γ_i ~ Normal(1, σ_i), where
  σ_i = sqrt((ν_s δS_i)² + (ν_b δB_i)²) / (ν_s S_i + ν_b B_i) is the relative MC uncertainty of the summed
  expected template in that bin, evaluated at the current (ν_s, ν_b). The non-centred form keeps the
  geometry independent of σ_i. With `template_uncertainty=False` the γ_i are absent (γ = 1).

The Poisson log-likelihood is written relative to the saturated model, Σ n log(μ/n) − (μ − n), which is
O(1) per bin near the optimum and therefore accurate in float32 (the precision policy of
:mod:`inference.sampling.nuts`). The data enter as arguments (:class:`TemplateData`), so one compiled sampler
serves every dataset of the same number of bins.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax.scipy.special import xlogy
from numpyro.distributions import constraints

from inference.templates.histograms import Histogram, Templates, check_same_binning


class TemplateData(NamedTuple):
    """The arrays of one template fit (K bins): data counts, template fractions and their MC errors."""

    counts: jnp.ndarray
    signal: jnp.ndarray
    signal_err: jnp.ndarray
    background: jnp.ndarray
    background_err: jnp.ndarray


def template_data(data: Histogram, templates: Templates) -> TemplateData:
    """The model's arguments from the data histogram and the templates (which must share its bins)."""
    check_same_binning(("templates", templates.edges), (data.source, data.edges))
    arrays = (data.counts, templates.signal, templates.signal_err, templates.background,
              templates.background_err)
    return TemplateData(*(jnp.asarray(np.asarray(a, dtype=np.float32)) for a in arrays))


def relative_mc_error(data: TemplateData, nu_s: jnp.ndarray, nu_b: jnp.ndarray) -> jnp.ndarray:
    """σ_i: relative MC uncertainty of the summed expected template ν_s S + ν_b B in each bin."""
    total = nu_s * data.signal + nu_b * data.background
    return jnp.hypot(nu_s * data.signal_err, nu_b * data.background_err) / total


def poisson_log_likelihood(counts: jnp.ndarray, expected: jnp.ndarray) -> jnp.ndarray:
    """Σ_i log Poisson(n_i | μ_i) minus its value at μ = n (a constant): Σ n log(μ/n) − (μ − n)."""
    return jnp.sum(xlogy(counts, expected) - xlogy(counts, counts) - expected + counts)


def template_model(data: TemplateData, *, template_uncertainty: bool = True) -> None:
    """numpyro model of the binned template fit (see the module docstring for the sites)."""
    positive = dist.ImproperUniform(constraints.positive, (), ())
    nu_s = numpyro.sample("nu_s", positive)
    nu_b = numpyro.sample("nu_b", positive)
    numpyro.deterministic("f", nu_s / (nu_s + nu_b))
    numpyro.deterministic("n_total", nu_s + nu_b)
    expected = nu_s * data.signal + nu_b * data.background
    if template_uncertainty:
        z = numpyro.sample("gamma_z", dist.Normal(0.0, 1.0).expand(data.counts.shape).to_event(1))
        gamma = numpyro.deterministic("gamma", 1.0 + relative_mc_error(data, nu_s, nu_b) * z)
        # γ ≤ 0 lies > 1/σ_i standard deviations out; the floor only keeps the rate positive there.
        expected = expected * jnp.maximum(gamma, 1e-6)
    numpyro.factor("poisson", poisson_log_likelihood(data.counts, expected))


def start_values(counts: np.ndarray) -> dict[str, float]:
    """A starting point for the sampler: half of the observed jets as signal, half as background."""
    half = max(float(np.sum(counts)), 1.0) / 2.0
    return {"nu_s": half, "nu_b": half}

"""calibration/noise_diagnostics.py: the linearised fit that its bias and forecast measurements rest on."""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "calibration" / "noise_diagnostics.py"
spec = importlib.util.spec_from_file_location("noise_diagnostics", SCRIPT)
noise_diagnostics = importlib.util.module_from_spec(spec)
spec.loader.exec_module(noise_diagnostics)


def test_fisher_pulls_recover_a_linear_models_offset_in_units_of_its_fisher_sd() -> None:
    """For a linear model μ(θ) = Aθ + b with covariance C, data μ(θ) + Aδ give back δ / √(F⁻¹)ᵢᵢ exactly,
    F = Aᵀ C⁻¹ A; a row whose covariance is not finite gives NaN."""
    rng = np.random.default_rng(3)
    n_data, n_par = 12, 3
    a, b = rng.normal(size=(n_data, n_par)), rng.normal(size=n_data)
    root = rng.normal(size=(n_data, n_data))
    cov = root @ root.T + n_data * np.eye(n_data)
    bad = np.full_like(cov, np.nan)

    def model_covariance(theta):
        covariance = jnp.where(theta[0] > 5.0, jnp.asarray(bad), jnp.asarray(cov))
        return jnp.asarray(a) @ theta + jnp.asarray(b), covariance

    like = SimpleNamespace(model_covariance=model_covariance)
    theta = rng.normal(size=(4, n_par))
    theta[3, 0] = 9.0  # its covariance is NaN
    delta = rng.normal(size=(4, n_par))
    data = theta @ a.T + b + delta @ a.T
    pulls = noise_diagnostics.fisher_pulls(like, theta, data)
    sd = np.sqrt(np.diag(np.linalg.inv(a.T @ np.linalg.solve(cov, a))))
    np.testing.assert_allclose(pulls[:3], delta[:3] / sd, rtol=2e-3, atol=2e-3)  # float32 model
    assert np.isnan(pulls[3]).all()

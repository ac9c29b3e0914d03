"""Emulator bins onto an observation's: exact rebinning checked against pair counts, shell overlap against
quadrature, interpolation, ranges."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad

from catalogs.mocks.correlations import measure, r_centres
from common.errors import InputError
from inference.ia.binning import bin_mapping, overlap_matrix
from inference.ia.likelihood import build_likelihood
from inference.ia.observations import Observation
from tests.inference.ia.standin import LinearGaussianEmulator

FINE = np.logspace(-0.7, 0.9, 17)  # 16 fine bins, 0.2..7.9 Mpc/h
COARSE = FINE[::4]  # 4 coarse bins, each the union of 4 fine ones
R = r_centres(COARSE)


def clustered_galaxies(n_clumps: int = 60, per_clump: int = 25, box: float = 40.0, seed: int = 1):
    """Clumps of galaxies (so that ξ varies strongly with r) whose major axes point partly at their clump's
    centre (so that ω and η are not zero), in a periodic box of side ``box`` Mpc/h."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, box, (n_clumps, 3))
    offsets = rng.normal(scale=0.8, size=(n_clumps, per_clump, 3))
    pos = (centres[:, None, :] + offsets).reshape(-1, 3) % box
    radial = offsets.reshape(-1, 3) / np.linalg.norm(offsets.reshape(-1, 3), axis=1, keepdims=True)
    axes = radial + 0.8 * rng.normal(size=radial.shape)
    return pos, axes / np.linalg.norm(axes, axis=1, keepdims=True), box


def test_rebinning_equals_counting_the_pairs_in_the_coarse_bins() -> None:
    """halotools on the coarse bins gives what the pair-weighted average of its fine bins gives, for ξ (volume
    weights) and for ω and η (pair weights V (1 + ξ)), to 1e-8."""
    pos, axes, box = clustered_galaxies()
    fine, coarse = measure(pos, axes, FINE, box), measure(pos, axes, COARSE, box)
    assert fine["xi"][0] > 30 * np.abs(fine["xi"][-1]) and np.max(np.abs(fine["omega"])) > 1e-2
    obs = Observation(R, {s: coarse[s] for s in coarse}, np.eye(12), COARSE, name="coarse.h5")
    mapping = bin_mapping(obs, r_centres(FINE), FINE, interpolate=False)
    assert mapping is not None and mapping.kind == "rebin"
    for stat in ("xi", "omega", "eta"):
        rebinned = np.asarray(mapping.weights(stat, fine["xi"]), dtype=np.float64) @ fine[stat]
        np.testing.assert_allclose(rebinned, coarse[stat], rtol=1e-8, atol=1e-12)
    volume_only = np.asarray(mapping.weights("xi"), dtype=np.float64) @ fine["omega"]
    assert np.max(np.abs(volume_only - coarse["omega"])) > 1e-4  # the pair weights matter


def test_the_likelihood_rebins_the_emulator_prediction() -> None:
    """A stand-in emulator on the fine bins: the likelihood's model on the coarse bins is the rebinned one."""
    fine_r = r_centres(FINE)
    xi = 5.0 * fine_r**-1.8
    omega = 0.05 * np.exp(-fine_r)
    k = 2 * fine_r.size
    emu = LinearGaussianEmulator(np.zeros((k, 1)), np.concatenate([xi, omega]), [-1.0], [1.0], fine_r,
                                 np.ones(k), np.ones(k), statistics=("xi", "omega"))
    emu.r_edges = FINE
    obs = Observation(R, {"xi": np.zeros(4), "omega": np.zeros(4)}, np.eye(8), COARSE, name="coarse.h5")
    like = build_likelihood(emu, obs, emulator_variance="none")
    mean, _ = like.model(jnp.array([0.0]))
    vol = FINE[1:] ** 3 - FINE[:-1] ** 3
    groups = np.arange(16) // 4

    def average(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
        sums = [(np.sum((weights * values)[groups == g]), np.sum(weights[groups == g])) for g in range(4)]
        return np.array([a / b for a, b in sums])

    expect_xi, expect_omega = average(xi, vol), average(omega, vol * (1 + xi))
    np.testing.assert_allclose(np.asarray(mean), np.concatenate([expect_xi, expect_omega]), rtol=1e-5)


def _shell_average(f, weight, a: float, b: float) -> float:
    """∫ f w r² dr / ∫ w r² dr over (a, b): a statistic averaged over a shell's pairs, by quadrature."""
    return quad(lambda r: f(r) * weight(r) * r * r, a, b)[0] / quad(lambda r: weight(r) * r * r, a, b)[0]


@pytest.mark.parametrize(
    "coarse", [np.logspace(-1, 1.2, 21), np.logspace(-1, 1.4, 20)], ids=["iaemu", "19bin"]
)
def test_overlapping_bins_average_the_shell_volumes_inside(coarse: np.ndarray) -> None:
    """IAEmu's 0.11 dex and the 19-bin 0.126 dex edges are not edges of the shipped 0.06 dex grid: their bins
    are the shell-volume-weighted averages of the fine bins that overlap them. For ξ = (r/5)^-1.8 and
    ω = 0.05 r^-0.6 the result is within 1.1% (ξ) and 0.4% (ω) of the averages over the coarse shells
    themselves, by quadrature (a step function within each fine bin is the only approximation)."""
    fine = np.logspace(-1, 1.5, 43)
    xi, omega = (lambda r: (r / 5.0) ** -1.8), (lambda r: 0.05 * r**-0.6)
    one, pairs = (lambda r: 1.0), (lambda r: 1.0 + xi(r))
    shells = {name: list(zip(e[:-1], e[1:], strict=True)) for name, e in (("fine", fine), ("coarse", coarse))}
    fine_xi = np.array([_shell_average(xi, one, a, b) for a, b in shells["fine"]])
    fine_omega = np.array([_shell_average(omega, pairs, a, b) for a, b in shells["fine"]])
    obs = Observation(r_centres(coarse), {"xi": np.zeros(coarse.size - 1)}, np.eye(coarse.size - 1), coarse,
                      name="o.h5")
    mapping = bin_mapping(obs, r_centres(fine), fine, interpolate=False)
    assert mapping is not None and mapping.kind == "overlap"
    expect_xi = np.array([_shell_average(xi, one, a, b) for a, b in shells["coarse"]])
    expect_omega = np.array([_shell_average(omega, pairs, a, b) for a, b in shells["coarse"]])
    np.testing.assert_allclose(mapping.weights("xi") @ fine_xi, expect_xi, rtol=0.011)
    np.testing.assert_allclose(mapping.weights("omega", fine_xi) @ fine_omega, expect_omega, rtol=0.004)


def test_an_overlap_that_misses_a_power_law_by_more_than_1p5_percent_needs_interpolation() -> None:
    """IAEmu's 0.11 dex bins onto TNG's 0.18 dex ones (to 13.9 Mpc/h): the overlap map would miss the shell
    averages of ξ ∝ r^-1.8 by 4.1%, so the mapping is refused without --interpolate."""
    iaemu, tng = np.logspace(-1, 1.2, 21), np.logspace(-1, 1.5, 15)[:13]
    mapped = overlap_matrix(tng, iaemu)
    assert mapped is None
    lo = np.maximum(tng[:-1, None], iaemu[None, :-1])
    hi = np.minimum(tng[1:, None], iaemu[None, 1:])
    shares = np.where(hi > lo, hi**3 - lo**3, 0.0)
    def means(e: np.ndarray) -> np.ndarray:  # shell averages of r^-1.8 by quadrature
        return np.array([_shell_average(lambda r: r**-1.8, lambda r: 1.0, a, b)
                         for a, b in zip(e[:-1], e[1:], strict=True)])

    assert 0.035 < np.max(np.abs(shares @ means(iaemu) / shares.sum(axis=1) / means(tng) - 1)) < 0.05
    obs = Observation(r_centres(tng), {"xi": np.zeros(12)}, np.eye(12), tng, name="tng.h5")
    with pytest.raises(InputError, match="tng.h5: /r: bins differ from the emulator's.*--interpolate"):
        bin_mapping(obs, r_centres(iaemu), iaemu, interpolate=False)
    assert bin_mapping(obs, r_centres(iaemu), iaemu, interpolate=True).kind == "interpolate"


def test_bins_narrower_than_the_emulators_need_interpolation_and_outside_bins_are_named() -> None:
    narrow = np.logspace(-0.65, 0.85, 31)  # 0.05 dex bins across the 0.1 dex emulator bins
    obs = Observation(r_centres(narrow), {"eta": np.zeros(30)}, np.eye(30), narrow, name="tng.h5")
    fine_r = r_centres(FINE)
    with pytest.raises(InputError, match="tng.h5: /r: bins differ from the emulator's.*--interpolate"):
        bin_mapping(obs, fine_r, FINE, interpolate=False)
    shifted = COARSE * np.array([1.0, 1.05, 1.05, 1.05, 1.0])  # inner edges between fine edges, bins wider
    shifted_obs = Observation(r_centres(shifted), {"eta": np.zeros(4)}, np.eye(4), shifted, name="s.h5")
    assert bin_mapping(shifted_obs, fine_r, FINE, interpolate=False).kind == "overlap"
    mapping = bin_mapping(obs, fine_r, FINE, interpolate=True)
    assert mapping.kind == "interpolate"
    np.testing.assert_allclose(mapping.matrix @ np.log(fine_r), np.log(obs.r), rtol=1e-12)
    wide_edges = np.append(COARSE, 30.0)
    wide = Observation(r_centres(wide_edges), {"eta": np.zeros(5)}, np.eye(5), wide_edges, name="wide.h5")
    with pytest.raises(InputError) as err:
        bin_mapping(wide, fine_r, FINE, interpolate=False)
    message = str(err.value)
    assert f"bin 5 (r = {wide.r[-1]:.3g} Mpc/h) lie outside" in message and "--r-range" in message
    inside = wide.select_range(0.2, 8.0)
    assert bin_mapping(inside, fine_r, FINE, interpolate=False).kind == "rebin"


def test_a_range_keeps_its_bins_and_their_covariance_block() -> None:
    cov = np.arange(64.0).reshape(8, 8)
    cov = cov @ cov.T + 8 * np.eye(8)
    obs = Observation(R, {"xi": np.arange(4.0), "omega": 10 + np.arange(4.0)}, cov, COARSE, name="o.h5")
    part = obs.select_range(COARSE[1], COARSE[3])
    np.testing.assert_array_equal(part.r, R[1:3])
    np.testing.assert_array_equal(part.r_edges, COARSE[1:4])
    np.testing.assert_array_equal(part.values["omega"], [11.0, 12.0])
    np.testing.assert_array_equal(part.cov, cov[np.ix_([1, 2, 5, 6], [1, 2, 5, 6])])
    with pytest.raises(InputError, match="o.h5: /r: the range 20..30 Mpc/h selects no bin"):
        obs.select_range(20.0, 30.0)

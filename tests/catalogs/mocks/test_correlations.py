"""ξ, ω, η against brute-force pair sums, the analytic one-halo ω of radial alignment, and null/sign cases."""

import numpy as np
import pytest

from catalogs.mocks.correlations import (
    check_r_edges,
    default_r_edges,
    eta,
    galaxy_arrays,
    measure,
    omega,
    r_centres,
    xi,
)
from catalogs.mocks.hod import HodIAModel
from common.errors import InputError
from tests.catalogs.halos.halo_tables import halo_catalog, random_box

HOD = {"logMmin": 12.3, "sigma_logM": 0.3, "logM0": 12.0, "logM1": 13.0, "alpha": 1.0}


def test_default_bins_are_iaemus() -> None:
    edges = default_r_edges()
    assert len(edges) == 21 and edges[0] == pytest.approx(0.1) and edges[-1] == pytest.approx(10**1.2)
    assert np.allclose(np.diff(np.log10(edges)), 0.11)
    centres = r_centres(edges)
    assert centres[0] == pytest.approx((0.1 + 0.1 * 10**0.11) / 2) and len(centres) == 20


def test_bins_are_checked_against_the_box() -> None:
    assert check_r_edges([0.1, 1.0, 5.0], Lbox=30.0).tolist() == [0.1, 1.0, 5.0]
    with pytest.raises(InputError, match="Lbox/3"):
        check_r_edges([0.1, 1.0, 12.0], Lbox=30.0)
    with pytest.raises(InputError, match="increasing"):
        check_r_edges([0.0, 1.0])


def _brute_force(pos, axes, edges, Lbox):
    """Pair sums over i != j with minimum-image separations: (DD, Σ|ê_i·r̂_ij|², Σ|ê_i·ê_j|²) per bin."""
    d = pos[None, :, :] - pos[:, None, :]  # from i to j
    d -= Lbox * np.round(d / Lbox)
    r = np.linalg.norm(d, axis=-1)
    off = ~np.eye(len(pos), dtype=bool)
    rhat = d[off] / r[off, None]
    ed = np.einsum("pk,pk->p", np.repeat(axes, len(pos) - 1, axis=0), rhat) ** 2
    ee = (axes @ axes.T)[off] ** 2
    which = np.digitize(r[off], edges) - 1
    ok = (which >= 0) & (which < len(edges) - 1)
    count = np.bincount(which[ok], minlength=len(edges) - 1)
    return (
        count,
        np.bincount(which[ok], ed[ok], len(edges) - 1),
        np.bincount(which[ok], ee[ok], len(edges) - 1),
    )


def test_estimators_match_brute_force_pair_sums() -> None:
    rng = np.random.default_rng(1)
    Lbox, n = 20.0, 250
    pos = rng.uniform(0, Lbox, (n, 3))
    pos[:50] = (pos[:50, None] + rng.normal(0, 0.3, (1, 3))).reshape(50, 3) % Lbox  # some clustering
    axes = rng.normal(size=(n, 3)) + [0, 0, 2.0]  # anisotropic orientations
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    edges = np.logspace(-0.7, 0.75, 7)
    dd, ed, ee = _brute_force(pos, axes, edges, Lbox)
    shell = 4 / 3 * np.pi * np.diff(edges**3)
    assert np.allclose(xi(pos, edges, Lbox), dd / (n * n / Lbox**3 * shell) - 1, rtol=1e-10)
    assert np.allclose(omega(pos, axes, pos, edges, Lbox), ed / dd - 1 / 3, rtol=1e-8)
    assert np.allclose(eta(pos, axes, pos, axes, edges, Lbox), ee / dd - 1 / 3, rtol=1e-8)


def _isolated_halos():
    """Six 1e15 Msun/h halos (r_vir ≈ 2 Mpc/h) at least 100 Mpc/h apart in a 300 Mpc/h box."""
    centres = np.array(
        [[50, 50, 50], [150, 50, 50], [50, 150, 50], [150, 150, 150], [250, 250, 250], [250, 50, 150]],
        dtype=float,
    )
    return halo_catalog(centres, np.full(len(centres), 1e15), Lbox=300.0, seed=2)


@pytest.mark.parametrize(("mu_sat", "expected"), [(1.0, 2 / 3), (-1.0, -1 / 3)])
def test_radially_aligned_satellites_give_the_analytic_one_halo_omega(mu_sat: float, expected: float) -> None:
    """ê = ±r̂ from the halo centre, so for (satellite, its central) pairs |ê·r̂|² = 1 (μ = 1) or 0 (μ = −1)."""
    model = HodIAModel(_isolated_halos())
    galaxies = model.populate({"mu_cen": 0.0, "mu_sat": mu_sat, **HOD}, seed=4)
    pos, axes = galaxy_arrays(galaxies)
    sat = np.asarray(galaxies["gal_type"]) == "satellites"
    assert sat.sum() > 300 and (~sat).sum() == 6
    edges = np.logspace(-1.5, 0.5, 9)  # inside r_vir; other halos are > 90 Mpc/h away
    result = omega(pos[sat], axes[sat], pos[~sat], edges, model.Lbox)
    assert np.allclose(result, expected, atol=1e-6)
    # the full auto-correlation mixes in satellite pairs and random centrals: not the analytic value
    assert not np.allclose(omega(pos, axes, pos, edges, model.Lbox), expected, atol=0.05)


def _realisations(mu: float, n: int, seed0: int = 10):
    model = HodIAModel(random_box(n_halos=300, Lbox=50.0, seed=3))
    edges = np.logspace(-1, 1.0, 11)
    runs = [
        measure(
            *galaxy_arrays(model.populate({"mu_cen": mu, "mu_sat": mu, **HOD}, seed0 + k)), edges, model.Lbox
        )
        for k in range(n)
    ]
    return {name: np.array([run[name] for run in runs]) for name in ("omega", "eta")}


def test_random_orientations_give_zero_omega_and_eta_within_scatter() -> None:
    n = 10
    runs = _realisations(0.0, n)
    for name, values in runs.items():
        mean, err = values.mean(axis=0), values.std(axis=0, ddof=1) / np.sqrt(n)
        assert np.all(err > 0), name
        assert np.all(np.abs(mean) < 4 * err), (name, mean / err)


def test_sign_of_alignment_sets_sign_of_omega() -> None:
    """Satellites along (μ > 0) or across (μ < 0) the radial direction: ω > 0 or < 0 on one-halo scales."""
    n = 3
    one_halo = slice(0, 5)  # r < 1 Mpc/h
    for mu, sign in ((0.8, 1.0), (-0.8, -1.0)):
        values = _realisations(mu, n)["omega"][:, one_halo]
        err = values.std(axis=0, ddof=1) / np.sqrt(n)
        assert np.all(sign * values.mean(axis=0) > 5 * err), (mu, values.mean(axis=0), err)

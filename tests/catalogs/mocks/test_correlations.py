"""ξ, ω, η against halotools and brute-force pair sums, analytic configurations, and null/sign cases."""

import numpy as np
import pytest
from halotools.mock_observables import ed_3d, ee_3d, tpcf
from scipy.spatial.transform import Rotation

from catalogs.mocks.correlations import (
    STATISTICS,
    check_r_edges,
    default_r_edges,
    galaxy_arrays,
    measure,
    r_centres,
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


def test_measure_matches_brute_force_pair_sums() -> None:
    rng = np.random.default_rng(1)
    Lbox, n = 20.0, 250
    pos = rng.uniform(0, Lbox, (n, 3))
    pos[:50] = (pos[:50, None] + rng.normal(0, 0.3, (1, 3))).reshape(50, 3) % Lbox  # some clustering
    axes = rng.normal(size=(n, 3)) + [0, 0, 2.0]  # anisotropic orientations
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    edges = np.logspace(-0.7, 0.75, 7)
    dd, ed, ee = _brute_force(pos, axes, edges, Lbox)
    shell = 4 / 3 * np.pi * np.diff(edges**3)
    result = measure(pos, axes, edges, Lbox)
    assert np.allclose(result["xi"], dd / (n * n / Lbox**3 * shell) - 1, rtol=1e-10)
    assert np.allclose(result["omega"], ed / dd - 1 / 3, rtol=1e-10)
    assert np.allclose(result["eta"], ee / dd - 1 / 3, rtol=1e-10)


def _halotools(pos, axes, edges, Lbox):
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "xi": tpcf(pos, edges, period=Lbox, num_threads=1),
            "omega": ed_3d(pos, axes, pos, edges, period=Lbox, num_threads=1),
            "eta": ee_3d(pos, axes, pos, axes, edges, period=Lbox, num_threads=1),
        }


def _blobs(n: int, Lbox: float, seed: int):
    """Half uniform, half in 6 Gaussian blobs (σ = 0.4 Mpc/h), one on a corner of the box; axes radial to
    the blobs' centres with scatter, and random elsewhere."""
    rng = np.random.default_rng(seed)
    centres = np.vstack([[0.2, Lbox - 0.3, 0.1], rng.uniform(0, Lbox, (5, 3))])
    offset = rng.normal(0, 0.4, (n // 2, 3))
    pos = np.vstack([(centres[np.arange(n // 2) % 6] + offset) % Lbox, rng.uniform(0, Lbox, (n - n // 2, 3))])
    axes = np.vstack([offset + rng.normal(0, 0.2, (n // 2, 3)), rng.normal(size=(n - n // 2, 3))])
    return pos, axes


@pytest.mark.parametrize(
    "edges",
    [
        np.logspace(-1, 0.9, 11),
        np.logspace(-0.5, np.log10(0.99 * 30.0 / 3), 15),  # to just below Lbox/3
        np.linspace(0.5, 6.0, 4),
        np.array([0.3, 0.31, 2.0, 2.2, 9.0]),
    ],
)
def test_measure_matches_halotools(edges: np.ndarray) -> None:
    """Clustered points across the periodic boundary, unnormalised axes: halotools' values to 1e-10."""
    Lbox = 30.0
    pos, axes = _blobs(1200, Lbox, seed=5)
    ref, result = _halotools(pos, axes, edges, Lbox), measure(pos, axes, edges, Lbox)
    assert np.all(np.isfinite(ref["omega"])) and np.max(np.abs(ref["omega"])) > 0.01  # every bin has pairs
    for name in STATISTICS:
        np.testing.assert_allclose(result[name], ref[name], rtol=1e-10, atol=1e-10, err_msg=name)


def test_empty_bins_give_nan_like_halotools() -> None:
    """No pair in a bin: ω, η NaN and ξ = −1, as halotools gives them."""
    Lbox = 40.0
    pos = np.random.default_rng(2).uniform(0, Lbox, (60, 3))
    axes = np.random.default_rng(3).normal(size=(60, 3))
    edges = np.array([1e-3, 2e-3, 3.0, 12.0])
    ref, result = _halotools(pos, axes, edges, Lbox), measure(pos, axes, edges, Lbox)
    assert np.isnan(result["omega"][0]) and np.isnan(result["eta"][0]) and result["xi"][0] == -1
    for name in STATISTICS:
        np.testing.assert_allclose(result[name], ref[name], rtol=1e-10, atol=1e-10, err_msg=name)


def test_octahedra_give_the_analytic_omega_and_eta() -> None:
    """Centres with 6 satellites at ±R along rotated axes, satellites radial, centres in any direction ê_c.

    At R (centre–satellite): the satellite's term is 1 and the centre's averages to 1/3 over the 6 ±axes, so
    ω = (1 + 1/3)/2 − 1/3 = 1/3, and η = ⟨(ê_c·axis)²⟩ − 1/3 = 0. At √2 R (perpendicular satellites, each at
    45° to the separation): ω = 1/2 − 1/3, η = −1/3. At 2R (opposite satellites, along their axes): ω = η =
    2/3. The systems lie over 20 Mpc/h apart (one across the corner of the box): no other bin has pairs."""
    Lbox, R = 60.0, 1.0
    rng = np.random.default_rng(7)
    centres = np.array([[0.3, 59.5, 0.2], [30, 30, 30], [30, 5, 45], [10, 40, 25]])
    pos, axes = [], []
    for centre, rotation in zip(centres, Rotation.random(len(centres), random_state=8), strict=True):
        directions = rotation.apply(np.vstack([np.eye(3), -np.eye(3)]))
        pos += [centre, *(centre + R * directions)]
        axes += [rng.normal(size=3), *(directions * rng.choice([-1, 1], (6, 1)))]
    pos, axes = np.array(pos) % Lbox, np.array(axes)
    edges = np.array([0.5, 0.9, 1.1, 1.3, 1.5, 1.9, 2.1, 5.0])  # bins 1, 3, 5 hold R, √2 R, 2R
    result = measure(pos, axes, edges, Lbox)
    n = len(pos)
    shell = 4 / 3 * np.pi * np.diff(edges**3)
    pairs = np.array([0, 6, 0, 12, 0, 3, 0]) * len(centres)
    np.testing.assert_allclose(result["xi"], 2 * pairs / (n * n * shell / Lbox**3) - 1, rtol=1e-12)
    full = pairs > 0
    assert np.all(np.isnan(result["omega"][~full])) and np.all(np.isnan(result["eta"][~full]))
    np.testing.assert_allclose(result["omega"][full], [1 / 3, 1 / 6, 2 / 3], atol=1e-12)
    np.testing.assert_allclose(result["eta"][full], [0.0, -1 / 3, 2 / 3], atol=1e-12)


def test_identical_orientations_give_eta_two_thirds() -> None:
    Lbox = 25.0
    pos = np.random.default_rng(4).uniform(0, Lbox, (400, 3))
    result = measure(pos, np.tile([0.3, -2.0, 0.5], (400, 1)), np.logspace(-0.5, 0.9, 6), Lbox)
    np.testing.assert_allclose(result["eta"], 2 / 3, atol=1e-12)


def test_positions_are_taken_modulo_the_box_and_zero_axes_refused() -> None:
    Lbox = 20.0
    pos, axes = _blobs(300, Lbox, seed=6)
    edges = np.logspace(-0.5, 0.8, 6)
    shifted = pos + Lbox * np.random.default_rng(1).integers(-1, 2, pos.shape)
    shifted[0, 0] = Lbox  # on the box's far face: the same point as 0
    pos[0, 0] = 0.0
    direct, moved = measure(pos, axes, edges, Lbox), measure(shifted, axes, edges, Lbox)
    for name in STATISTICS:
        np.testing.assert_allclose(moved[name], direct[name], rtol=1e-10, atol=1e-12)
    axes[3] = 0.0
    with pytest.raises(InputError, match="length 0"):
        measure(pos, axes, edges, Lbox)
    with pytest.raises(InputError, match="Lbox/3"):
        measure(pos, np.ones_like(pos), [0.1, 7.0], Lbox)


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
    with np.errstate(invalid="ignore", divide="ignore"):  # halotools' cross-correlation: satellites' axes
        result = ed_3d(pos[sat], axes[sat], pos[~sat], edges, period=model.Lbox, num_threads=1)
    assert np.allclose(result, expected, atol=1e-6)
    # the full auto-correlation mixes in satellite pairs and random centrals: not the analytic value
    assert not np.allclose(measure(pos, axes, edges, model.Lbox)["omega"], expected, atol=0.05)


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

"""Satellite phase spaces: the triaxial one recovers its halo's shape and the central–satellite alignment of
an analytic calculation; nfw stays isotropic; subhalo needs subhalos."""

import numpy as np
import pytest
from scipy import integrate

from catalogs.mocks.hod import HodIAModel
from catalogs.mocks.phase_space import SUBHALO_COLUMNS, default_profile, ellipsoid_maps
from common.errors import InputError
from tests.catalogs.halos.halo_tables import halo_catalog

Q, S = 0.6, 0.4  # b/a, c/a of the test halos
PARAMS = {"mu_cen": 1.0, "mu_sat": 0.0, "logMmin": 11.0, "sigma_logM": 0.1, "logM0": 11.0, "logM1": 12.0,
          "alpha": 1.0}  # ~ 300 satellites in each 3e14 Msun/h halo, its central exactly along its axis A


def lone_halos(n: int = 4, seed: int = 3) -> tuple:
    """n massive halos far apart in a 400 Mpc/h box, random triaxial orientations with b/a Q and c/a S."""
    rng = np.random.default_rng(seed)
    rot = np.linalg.qr(rng.normal(size=(n, 3, 3)))[0]  # random orthonormal frames: columns A, B, C
    positions = 50.0 + 100.0 * np.array([[i % 2, (i // 2) % 2, i // 4] for i in range(n)], float)
    columns = {f"halo_axis{k}_{c}": rot[:, i, j] for j, k in enumerate("AB") for i, c in enumerate("xyz")}
    catalog = halo_catalog(positions, np.full(n, 3e14), 400.0, seed=seed, **columns,
                           halo_b_to_a=np.full(n, Q), halo_c_to_a=np.full(n, S))
    return catalog, rot


def satellite_offsets(model: HodIAModel, seeds: range) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Satellite offsets from their halo centre, their halo ids, and each halo's central axis A."""
    offsets, hosts, central_axes = [], [], {}
    for seed in seeds:
        gal = model.populate(PARAMS, seed)
        kind = np.asarray(gal["gal_type"])
        pos = np.stack([np.asarray(gal[c], float) for c in "xyz"], 1)
        centre = np.stack([np.asarray(gal[f"halo_{c}"], float) for c in "xyz"], 1)
        sat = kind == "satellites"
        offsets.append((pos - centre)[sat])
        hosts.append(np.asarray(gal["halo_id"])[sat])
        for row in np.flatnonzero(kind == "centrals"):
            central_axes[int(gal["halo_id"][row])] = np.array([gal[f"galaxy_axisA_{c}"][row] for c in "xyz"])
    return np.concatenate(offsets), np.concatenate(hosts), central_axes


def test_ellipsoid_maps_keep_volume_and_follow_the_axes() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    maps = ellipsoid_maps(a, b, np.full(5, Q), np.full(5, S))
    np.testing.assert_allclose(np.linalg.det(maps), 1.0, rtol=1e-12)
    unit = a / np.linalg.norm(a, axis=1, keepdims=True)
    stretch = np.einsum("nij,nj->ni", maps, unit)  # the major axis is stretched by (Q S)^(-1/3)
    np.testing.assert_allclose(stretch, unit / np.cbrt(Q * S), rtol=1e-12)
    np.testing.assert_array_equal(ellipsoid_maps(a[:1], a[:1], np.ones(1), np.ones(1)), np.eye(3)[None])


@pytest.mark.parametrize("elongation", [1.0, 2.0])
def test_triaxial_satellites_recover_their_halo_shape(elongation: float) -> None:
    catalog, rot = lone_halos()
    model = HodIAModel(catalog, satellites="triaxial", elongation=elongation)
    offsets, hosts, _ = satellite_offsets(model, range(4))
    ratios = np.array([Q, S]) ** elongation  # the halo's axis ratios, raised to the elongation p
    for h, frame in enumerate(rot, start=1):
        mine = offsets[hosts == h]
        assert len(mine) > 500
        moments = np.linalg.eigvalsh(np.cov(mine.T))[::-1]  # spherical draws mapped linearly: ∝ (1, q², s²)
        np.testing.assert_allclose(np.sqrt(moments[1:] / moments[0]), ratios, rtol=0.08)
        along = np.abs(mine @ frame)  # spreads along the halo's own axes A, B, C
        spread = np.sqrt((along**2).mean(0))
        np.testing.assert_allclose(spread[1:] / spread[0], ratios, rtol=0.08)


def expected_cos2(q: float, s: float) -> float:
    """⟨(Â·r̂)²⟩ for directions r̂ of a sphere's points mapped by diag(1, q, s): quadrature over the sphere."""
    def integrand(phi: float, theta: float) -> float:
        u = np.array([np.cos(theta), np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi)])
        v = u * [1.0, q, s]
        return (v[0] ** 2 / (v @ v)) * np.sin(theta) / (4 * np.pi)

    return integrate.dblquad(integrand, 0, np.pi, 0, 2 * np.pi, epsabs=1e-10)[0]


@pytest.mark.parametrize("profile", ["triaxial", "nfw"])
def test_central_satellite_alignment_of_lone_halos_matches_the_analytic_value(profile) -> None:
    """With μ_cen = 1 the central lies along A: the one-halo ω = ⟨(ê_cen·r̂)²⟩ - 1/3 over its satellites is
    the quadrature value for the ellipsoid (0.2 for Q = 0.6, S = 0.4), and 0 for spherical satellites."""
    catalog, _ = lone_halos(n=8, seed=5)
    model = HodIAModel(catalog, satellites=profile)
    offsets, hosts, axes = satellite_offsets(model, range(3))
    unit = offsets / np.linalg.norm(offsets, axis=1, keepdims=True)
    cos2 = np.einsum("ij,ij->i", unit, np.stack([axes[int(h)] for h in hosts]))
    omega = float((cos2**2).mean()) - 1 / 3
    expected = expected_cos2(Q, S) - 1 / 3 if profile == "triaxial" else 0.0
    error = (cos2**2).std() / np.sqrt(len(cos2))
    assert abs(omega - expected) < 4 * error, (omega, expected, error)
    if profile == "triaxial":
        assert expected > 0.15


def test_profiles_refuse_catalogs_that_cannot_hold_them() -> None:
    plain = halo_catalog(np.full((3, 3), 10.0), np.full(3, 1e13), 50.0)  # no axis B, no ratios, no subhalos
    with pytest.raises(InputError, match=r"triaxial satellite profile needs columns \['halo_axisB_x'"):
        HodIAModel(plain, satellites="triaxial")
    with pytest.raises(InputError, match="needs columns"):
        HodIAModel(plain, satellites="subhalo")
    hosts_only = halo_catalog(np.full((3, 3), 10.0), np.full(3, 1e13), 50.0,
                              **{name: np.ones(3) for name in SUBHALO_COLUMNS})
    with pytest.raises(InputError, match="halo_upid: the subhalo satellite profile needs subhalos"):
        HodIAModel(hosts_only, satellites="subhalo")
    with pytest.raises(InputError, match="satellite profile: 'sphere'"):
        HodIAModel(plain, satellites="sphere")


def test_a_model_without_a_profile_follows_the_halo_shapes_where_the_catalog_has_them() -> None:
    assert HodIAModel(lone_halos()[0]).satellites == "triaxial"
    plain = halo_catalog(np.full((4, 3), 10.0), np.full(4, 1e13), 50.0)  # no axis B, no ratios
    assert HodIAModel(plain).satellites == "nfw"
    with pytest.raises(InputError, match=r"halo catalog: halo_table: satellite_elongation 2 needs triaxial "
                                         r"satellites; without the columns \['halo_axisA_x'"):
        HodIAModel(plain, elongation=2.0)


def subhalo_catalog(n_hosts: int = 6, per_host: int = 40, seed: int = 0) -> tuple:
    """Hosts of 1e14–4e14 Msun/h, each with `per_host` subhalos 0.3 Mpc/h about it (halotools' columns)."""
    rng = np.random.default_rng(seed)
    host_pos = 20 + 60 * rng.uniform(size=(n_hosts, 3))
    host_of = np.repeat(np.arange(n_hosts), per_host)
    sub_pos = host_pos[host_of] + rng.normal(0, 0.3, size=(len(host_of), 3))
    pos = np.concatenate([host_pos, sub_pos])
    ids = np.arange(1, len(pos) + 1)
    host_id = np.concatenate([ids[:n_hosts], ids[host_of]])
    mass = np.concatenate([10 ** rng.uniform(14, 14.6, n_hosts), 10 ** rng.uniform(11, 12.5, len(host_of))])
    columns = {"halo_hostid": host_id, "halo_upid": np.concatenate([np.full(n_hosts, -1), ids[host_of]]),
               "halo_mpeak": 1.2 * mass, "halo_mvir_host_halo": mass[host_id - 1]}
    for i, c in enumerate("xyz"):
        columns[f"halo_{c}_host_halo"] = pos[host_id - 1, i]
        columns[f"halo_v{c}_host_halo"] = np.zeros(len(pos))
    return halo_catalog(pos, mass, 100.0, seed=seed, **columns), sub_pos


def test_subhalo_satellites_sit_on_their_hosts_subhalos() -> None:
    catalog, sub_pos = subhalo_catalog()
    model = HodIAModel(catalog, satellites="subhalo")
    gal = model.populate({**PARAMS, "logMmin": 13.0, "logM0": 12.0, "logM1": 13.4}, seed=1)  # 5-16 per host
    sat = np.asarray(gal["gal_type"]) == "satellites"
    assert sat.sum() > 30 and np.asarray(gal["real_subhalo"])[sat].all()
    pos = np.stack([np.asarray(gal[c], float)[sat] for c in "xyz"], 1)
    nearest = np.linalg.norm(pos[:, None] - sub_pos[None], axis=2).min(1)
    np.testing.assert_allclose(nearest, 0.0, atol=1e-4)


def test_the_mock_config_chooses_the_satellites_and_the_dataset_records_them() -> None:
    from catalogs.mocks.design import config_from_mapping
    from catalogs.mocks.hod import model_description

    assert config_from_mapping({}).satellites is None  # the builder's default_profile chooses
    shaped = lone_halos()[0].halo_table.colnames
    assert default_profile(shaped) == "triaxial"
    assert default_profile([c for c in shaped if c != "halo_c_to_a"]) == "nfw"
    assert config_from_mapping({"satellites": "triaxial"}).satellites == "triaxial"
    with pytest.raises(InputError, match="mocks.yaml: satellites: 'sphere': expected one of nfw, triaxial"):
        config_from_mapping({"satellites": "sphere"}, "mocks.yaml")
    assert "ellipsoid" in model_description("triaxial")["components"]["satellites_profile"]
    assert model_description()["components"]["satellites_profile"] == "NFWPhaseSpace"
    config = config_from_mapping({"satellites": "triaxial", "satellite_elongation": 2})
    assert config.satellite_elongation == 2.0
    assert model_description("triaxial", 2.0)["components"]["satellites_profile"].endswith("axis ratios ** 2")
    for bad in (0, "long", float("nan"), float("inf")):
        with pytest.raises(InputError, match="mocks.yaml: satellite_elongation: expected a number > 0"):
            config_from_mapping({"satellites": "triaxial", "satellite_elongation": bad}, "mocks.yaml")
    assert config_from_mapping({"satellite_elongation": 2}).satellite_elongation == 2.0  # triaxial by default
    with pytest.raises(InputError, match="satellite_elongation: applies to the triaxial satellites only"):
        config_from_mapping({"satellites": "nfw", "satellite_elongation": 2}, "mocks.yaml")

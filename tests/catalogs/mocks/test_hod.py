"""The HOD+IA model: parameters reach halotools, Zheng07 occupations, alignments, seeds, bad catalogs."""

import numpy as np
import pytest
from scipy.special import erf

from catalogs.mocks.hod import HALOTOOLS_KEYS, PARAM_NAMES, HodIAModel, as_param_dict
from common.errors import InputError
from tests.catalogs.halos.halo_tables import halo_catalog, random_box

PARAMS = {
    "mu_cen": 0.3,
    "mu_sat": -0.4,
    "logMmin": 12.6,
    "sigma_logM": 0.35,
    "logM0": 12.2,
    "logM1": 13.2,
    "alpha": 1.1,
}


def test_parameters_reach_every_halotools_component() -> None:
    model = HodIAModel(random_box(n_halos=100))
    model.populate(PARAMS, seed=1)
    assert set(HALOTOOLS_KEYS.values()) == set(model.model.param_dict)
    components = model.model.model_dictionary
    assert components["centrals_orientation"].param_dict["central_alignment_strength"] == PARAMS["mu_cen"]
    assert components["satellites_orientation"].param_dict["satellite_alignment_strength"] == PARAMS["mu_sat"]
    assert components["centrals_occupation"].param_dict["logMmin"] == PARAMS["logMmin"]
    assert components["satellites_occupation"].param_dict["alpha"] == PARAMS["alpha"]
    assert list(as_param_dict(list(PARAMS.values()))) == list(PARAM_NAMES)


def test_occupations_follow_zheng07() -> None:
    """Mean numbers of centrals and satellites over realisations agree with the Zheng07 formulae."""
    catalog = random_box(n_halos=400)
    model = HodIAModel(catalog)
    mass = np.asarray(catalog.halo_table["halo_mvir"])
    n_cen = 0.5 * (1 + erf((np.log10(mass) - PARAMS["logMmin"]) / PARAMS["sigma_logM"])).sum()
    m0, m1 = 10 ** PARAMS["logM0"], 10 ** PARAMS["logM1"]
    n_sat = (np.clip(mass - m0, 0, None) / m1) ** PARAMS["alpha"]
    n_sat = n_sat.sum()
    counts = []
    for seed in range(8):
        kinds = np.asarray(model.populate(PARAMS, seed)["gal_type"])
        counts.append(((kinds == "centrals").sum(), (kinds == "satellites").sum()))
    cen, sat = np.mean(counts, axis=0)
    assert abs(cen - n_cen) < 4 * np.sqrt(n_cen / 8)
    assert abs(sat - n_sat) < 4 * np.sqrt(n_sat / 8)


def test_centrals_follow_their_halo_axis() -> None:
    catalog = random_box(n_halos=300)
    model = HodIAModel(catalog)
    for mu, expected in ((1.0, 1.0), (-1.0, 0.0), (0.0, 1 / 3)):
        galaxies = model.populate({**PARAMS, "mu_cen": mu}, seed=2)
        cen = galaxies[np.asarray(galaxies["gal_type"]) == "centrals"]
        gal = np.stack([np.asarray(cen[f"galaxy_axisA_{c}"], float) for c in "xyz"], 1)
        halo = np.stack([np.asarray(cen[f"halo_axisA_{c}"], float) for c in "xyz"], 1)
        cos2 = np.einsum("ij,ij->i", gal, halo) ** 2
        assert len(cos2) > 50
        tol = 1e-6 if mu else 4 * np.sqrt(4 / 45 / len(cos2))  # var(cos²θ) = 4/45 for random axes
        assert abs(cos2.mean() - expected) < tol, (mu, cos2.mean())


def test_same_seed_same_mock_whatever_came_before() -> None:
    model = HodIAModel(random_box(n_halos=200))
    columns = ["x", "y", "z", "galaxy_axisA_x", "galaxy_axisA_y", "galaxy_axisA_z", "galaxy_axisB_x"]
    first = model.populate(PARAMS, seed=7)[columns].copy()
    other = model.populate({**PARAMS, "mu_sat": 0.9}, seed=8)[columns].copy()
    again = model.populate(PARAMS, seed=7)[columns]
    for col in columns:
        assert np.array_equal(first[col], again[col]), col
    assert not np.array_equal(first["galaxy_axisA_x"][:10], other["galaxy_axisA_x"][:10])


def test_halos_without_a_major_axis_are_dropped() -> None:
    rng = np.random.default_rng(0)
    n = 50
    catalog = halo_catalog(rng.uniform(0, 40, (n, 3)), np.full(n, 3e13), Lbox=40.0)
    for c in "xyz":
        catalog.halo_table[f"halo_axisA_{c}"][:10] = 0.0
    catalog.halo_table["halo_axisA_x"][10] = np.nan
    model = HodIAModel(catalog)
    galaxies = model.populate({**PARAMS, "logMmin": 12.0, "sigma_logM": 0.2}, seed=3)
    ids = set(np.asarray(galaxies["halo_id"]).tolist())
    assert ids == set(range(12, n + 1))  # halos 1..11 are gone, every other 3e13 halo has a central
    axes = np.stack([np.asarray(galaxies[f"galaxy_axisA_{c}"], float) for c in "xyz"], 1)
    assert np.allclose(np.linalg.norm(axes, axis=1), 1.0, atol=1e-5)


def test_a_mock_without_satellites_is_fine() -> None:
    model = HodIAModel(random_box(n_halos=100))
    galaxies = model.populate({**PARAMS, "logM0": 14.9, "logM1": 15.0}, seed=1)  # above every halo mass
    kinds = np.asarray(galaxies["gal_type"])
    assert (kinds == "satellites").sum() == 0 and (kinds == "centrals").sum() > 10


def test_catalog_missing_columns_is_refused() -> None:
    catalog = random_box(n_halos=20)
    catalog.halo_table.remove_column("halo_axisA_y")
    with pytest.raises(InputError, match=r"my halos: halo_table: missing columns \['halo_axisA_y'\]"):
        HodIAModel(catalog, name="my halos")


def test_unknown_parameter_is_refused() -> None:
    with pytest.raises(InputError, match="unknown"):
        as_param_dict({**PARAMS, "gamma": 1.0})


def test_a_dimroth_watson_sampler_that_gives_up_is_a_failed_attempt_not_a_crash() -> None:
    """At μ = 0.99914 (k ≈ −707) halotools' rejection sampler runs out of iterations and ends in `raise
    warn(...)`, a TypeError; the model turns it into a HalotoolsError, which the builder records as a failed
    realisation (catalogs/mocks/builder.py), and keeps any other TypeError."""
    from halotools.custom_exceptions import HalotoolsError

    from catalogs.mocks.hod import _assign_axes

    preferred = np.tile([0.0, 0.0, 1.0], (1300, 1))
    with pytest.raises(HalotoolsError, match="Dimroth-Watson sampler gave up at alignment strength 0.999139 "
                                             "for 1300 centrals"):
        _assign_axes("centrals", None, preferred, 0.999139, seed=11)
    with pytest.raises(TypeError) as err:  # any other TypeError is a bug and stays one
        _assign_axes("centrals", None, np.array([["x", "y", "z"]]), 0.5, seed=11)
    assert "must derive from BaseException" not in str(err.value)

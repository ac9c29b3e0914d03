"""The N-body halo catalog against theory: the FoF mass function and halo alignments with neighbours.

Each test runs on a 60 Mpc/h, 80^3-particle run (about half a minute on one core) and, as a slow test, on
the `default` preset (a few minutes).
"""

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.spatial import cKDTree

from catalogs.halos.nbody import NBodyConfig, set_colossus_cosmology
from catalogs.halos.sources import build_nbody_halos, build_preset, read_halo_table
from tests.catalogs.halos.torch_threads import one_torch_thread

MID = NBodyConfig(box=60.0, n_side=80, mesh_factor=2, z_init=19.0, n_steps=20)
CATALOGS = ["mid", pytest.param("default", marks=pytest.mark.slow)]


@pytest.fixture(scope="module")
def catalog(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    with one_torch_thread():
        if request.param == "mid":
            return build_nbody_halos(MID, seed=0, device="cpu", quiet=True)
        path = build_preset("default", seed=0, cache_dir=tmp_path_factory.mktemp("cache"), quiet=True)
        return read_halo_table(path)


@pytest.mark.parametrize("catalog", CATALOGS, indirect=True)
def test_mass_function_matches_sheth_tormen(catalog: tuple[dict, dict]) -> None:
    """Halos of >= 100 particles, in bins of 0.15 dex holding >= 30 expected halos: within 30% of colossus'
    Sheth & Tormen (1999) FoF mass function."""
    from colossus.lss import mass_function

    columns, meta = catalog
    set_colossus_cosmology()
    edges = 100 * 2.0 ** np.arange(0, 8.01, 0.5)  # in particles
    counts = np.histogram(columns["halo_npart"], edges)[0]

    def dn_dlnm(lnm: float) -> float:
        return mass_function.massFunction(
            np.exp(lnm), meta["redshift"], mdef="fof", model="sheth99", q_out="dndlnM"
        )

    log_m = np.log(edges * meta["particle_mass"])
    expected = np.array([quad(dn_dlnm, lo, hi)[0] for lo, hi in zip(log_m[:-1], log_m[1:], strict=True)])
    expected *= meta["Lbox"] ** 3
    tested = expected >= 30
    assert tested.sum() >= 3, expected
    np.testing.assert_allclose(counts[tested] / expected[tested], 1.0, atol=0.3)


@pytest.mark.parametrize("catalog", CATALOGS, indirect=True)
def test_major_axes_point_to_neighbouring_halos(catalog: tuple[dict, dict]) -> None:
    """<|a . r_hat|^2> - 1/3 over halo pairs 1-10 Mpc/h apart is positive by more than 4 jackknife sigma."""
    columns, meta = catalog
    box = meta["Lbox"]
    pos = np.column_stack([columns[f"halo_{c}"] for c in "xyz"])
    axes = np.column_stack([columns[f"halo_axisA_{c}"] for c in "xyz"])
    pairs = cKDTree(pos, boxsize=box).query_pairs(10.0, output_type="ndarray")
    sep = pos[pairs[:, 1]] - pos[pairs[:, 0]]
    sep -= box * np.round(sep / box)
    dist = np.linalg.norm(sep, axis=1)
    keep = dist > 1.0
    pairs, r_hat = pairs[keep], sep[keep] / dist[keep, None]
    owner = np.concatenate([pairs[:, 0], pairs[:, 1]])  # each pair counts once for each halo's axis
    values = np.concatenate([np.sum(axes[pairs[:, i]] * r_hat, axis=1) ** 2 for i in (0, 1)]) - 1 / 3
    octant = ((pos // (box / 2)).astype(int) * [4, 2, 1]).sum(axis=1)[owner]
    jackknife = np.array([values[octant != k].mean() for k in range(8)])
    sigma = np.sqrt(7 / 8 * np.sum((jackknife - jackknife.mean()) ** 2))
    assert values.mean() > 4 * sigma > 0, (values.mean(), sigma)

"""Designs: the Latin hypercube fills every stratum once, prior boxes and configs are validated."""

import json

import numpy as np
import pytest

from catalogs.mocks.design import DEFAULT_PRIOR, PriorBox, explicit_points, latin_hypercube, load_config
from catalogs.mocks.hod import PARAM_NAMES
from common.errors import InputError


def test_default_box_is_iaemus_in_iaemus_order() -> None:
    box = PriorBox.from_mapping({})
    assert box.names == ("mu_cen", "mu_sat", "logMmin", "sigma_logM", "logM0", "logM1", "alpha")
    assert box.lo.tolist() == [-1, -1, 11, 0.2, 11, 12, 0.8]
    assert box.hi.tolist() == [1, 1, 15, 0.8, 14, 15, 1.2]


def test_latin_hypercube_has_one_point_per_stratum_per_axis() -> None:
    box = PriorBox.from_mapping({"logMmin": [12.0, 13.0]})
    n = 37
    points = latin_hypercube(box, n, seed=5)
    assert points.shape == (n, len(PARAM_NAMES))
    unit = (points - box.lo) / (box.hi - box.lo)
    assert np.all((unit >= 0) & (unit < 1))
    strata = np.floor(unit * n).astype(int)
    for axis in range(len(PARAM_NAMES)):
        assert sorted(strata[:, axis]) == list(range(n))


def test_latin_hypercube_is_seeded() -> None:
    box = PriorBox.from_mapping({})
    assert np.array_equal(latin_hypercube(box, 10, 3), latin_hypercube(box, 10, 3))
    assert not np.allclose(latin_hypercube(box, 10, 3), latin_hypercube(box, 10, 4))


@pytest.mark.parametrize(
    ("bounds", "words"),
    [
        ({"alpha": [1.2, 0.8]}, ["alpha", "lo < hi"]),
        ({"logM1": [13.0, 13.0]}, ["logM1", "lo < hi"]),
        ({"logMmax": [12, 13]}, ["unknown parameter", "logMmax"]),
        ({"mu_cen": [0.0]}, ["mu_cen", "[lo, hi]"]),
    ],
)
def test_bad_prior_box_is_refused(bounds: dict, words: list[str]) -> None:
    with pytest.raises(InputError) as err:
        PriorBox.from_mapping(bounds)
    assert all(word in str(err.value) for word in words)


def test_logmmin_is_narrowed_to_the_resolved_masses() -> None:
    box = PriorBox.from_mapping({}).narrowed_logMmin(11.7, 14.2)
    i = PARAM_NAMES.index("logMmin")
    assert (box.lo[i], box.hi[i]) == (11.7, 14.2)
    other = [k for k in range(len(PARAM_NAMES)) if k != i]
    assert np.array_equal(box.lo[other], PriorBox.from_mapping({}).lo[other])
    with pytest.raises(InputError, match="logMmin"):
        PriorBox.from_mapping({"logMmin": [11.0, 11.5]}).narrowed_logMmin(11.7, 14.2)


def test_explicit_points_accept_mappings_and_ordered_lists() -> None:
    point = {name: 0.5 + k for k, name in enumerate(PARAM_NAMES)}
    rows = explicit_points([point, list(point.values())])
    assert np.array_equal(rows[0], rows[1]) and rows[0, 2] == 2.5
    with pytest.raises(InputError, match="unknown"):
        explicit_points([{**point, "gamma": 1.0}])
    with pytest.raises(InputError, match="7 values"):
        explicit_points([[0.0, 1.0]])


def test_config_files_in_yaml_and_json(tmp_path) -> None:
    yaml_file = tmp_path / "run.yaml"
    yaml_file.write_text("prior:\n  logMmin: [12.0, 13.5]\nr_edges: [0.5, 1.0, 2.0]\nmax_retries: 1\n")
    cfg = load_config(yaml_file)
    assert (
        cfg.prior.lo[2] == 12.0 and cfg.prior.hi[2] == 13.5 and cfg.prior.lo[0] == DEFAULT_PRIOR["mu_cen"][0]
    )
    assert cfg.r_edges.tolist() == [0.5, 1.0, 2.0] and cfg.max_retries == 1 and cfg.points is None

    yaml_file.write_text("r_edges: {logspace: [-1, 1.5, 43]}\n")  # the TNG300 tables' bins refined by 3
    edges = load_config(yaml_file).r_edges
    assert edges.size == 43 and np.allclose(np.diff(np.log10(edges)), 2.5 / 42)
    np.testing.assert_allclose(edges[::3], np.logspace(-1, 1.5, 15), rtol=1e-14)

    json_file = tmp_path / "run.json"
    points = [[0.1, 0.2, 12.5, 0.3, 12.0, 13.0, 1.0]]
    json_file.write_text(json.dumps({"points": points, "narrow_to_catalog": False}))
    cfg = load_config(json_file)
    assert cfg.points.tolist() == points and cfg.narrow_to_catalog is False


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("prior:\n  alpha: [1.3, 1.1]\n", ["alpha", "lo < hi"]),
        ("prior:\n  Mmin: [12, 13]\n", ["unknown parameter", "Mmin"]),
        ("priors: {}\n", ["unknown key", "priors"]),
        ("max_retries: -1\n", ["max_retries"]),
        ("r_edges: [1.0, 0.5]\n", ["r_edges", "increasing"]),
        ("r_edges: {logspace: [-1, 1.5]}\n", ["r_edges", "logspace [lo, hi, n]"]),
        ("r_edges: {logspace: [-1, 1.5, 4.5]}\n", ["r_edges", "integer n of 2..10000"]),
        ("r_edges: {logspace: [-1, 1.5, -2]}\n", ["r_edges", "integer n of 2..10000"]),
        ("r_edges: {logspace: [1.5, -1, 15]}\n", ["r_edges", "lo < hi"]),
        ("r_edges: {linspace: [0.1, 1, 4]}\n", ["r_edges", "{logspace: [lo, hi, n]}"]),
        ("prior: [", ["not valid YAML"]),
    ],
)
def test_bad_config_names_file_and_field(tmp_path, text: str, words: list[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_config(path)
    assert str(err.value).startswith(str(path)) and all(word in str(err.value) for word in words)

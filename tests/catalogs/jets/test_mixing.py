"""Mixed samples: the exact signal count, every jet drawn once from its source, seeded, bad input."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import uproot

from catalogs.jets.mixing import mix_jet_samples
from catalogs.jets.rootio import read_jets, write_jets
from common.errors import InputError
from tests.catalogs.jets.test_rootio import branches


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("mix")
    signal, background = folder / "top.root", folder / "qcd.root"
    write_jets(signal, [branches(120, seed=1, top_fraction=1.0)])
    write_jets(background, [branches(150, seed=2, top_fraction=0.0)])
    return signal, background


def _jet_pts(path: Path) -> np.ndarray:
    with uproot.open(path) as file:
        return file["tree"]["jet_pt"].array(library="np")


@pytest.mark.parametrize("fraction", [0.0, 0.2, 0.5, 1.0])
def test_mixture_has_the_exact_signal_count_and_draws_each_jet_once(
    sources: tuple[Path, Path], tmp_path: Path, fraction: float
) -> None:
    signal, background = sources
    out = tmp_path / "m.root"
    report = mix_jet_samples(signal, background, fraction=fraction, n_jets=100, out=out, seed=3)
    jets = read_jets(tmp_path / "m.root")
    is_top = np.asarray(jets.label_names)[jets.labels] == "label_Tbqq"
    assert is_top.sum() == report.n_signal == round(100 * fraction)
    assert report.fraction == pytest.approx(round(100 * fraction) / 100)
    pts = _jet_pts(tmp_path / "m.root")
    assert len(np.unique(pts)) == 100  # no jet drawn twice
    assert set(pts[is_top]) <= set(_jet_pts(signal)) and set(pts[~is_top]) <= set(_jet_pts(background))


def test_same_seed_same_mixture_other_seed_other(sources: tuple[Path, Path], tmp_path: Path) -> None:
    signal, background = sources
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        mix_jet_samples(signal, background, fraction=0.3, n_jets=50, out=tmp_path / f"{name}.root", seed=seed)
    a, b, c = (_jet_pts(tmp_path / f"{name}.root") for name in "abc")
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_too_few_jets_is_refused_and_nothing_written(sources: tuple[Path, Path], tmp_path: Path) -> None:
    signal, background = sources
    with pytest.raises(InputError, match="holds 120 jets, 150 needed"):
        mix_jet_samples(signal, background, fraction=0.75, n_jets=200, out=tmp_path / "m.root")
    assert not (tmp_path / "m.root").exists()


def test_cli_bad_fraction_exits_2_with_one_line(sources: tuple[Path, Path], tmp_path: Path) -> None:
    signal, background = sources
    result = subprocess.run(
        [str(Path(sys.executable).parent / "toptag"), "mix", "--signal", str(signal), "--background",
         str(background), "--fraction", "1.5", "--n", "10", "--out", str(tmp_path / "m.root")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: toptag mix: Invalid value for '--fraction': 1.5: expected a number in [0, 1]"]
    assert not (tmp_path / "m.root").exists()

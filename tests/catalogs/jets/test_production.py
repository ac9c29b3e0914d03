"""Top and QCD jets from Pythia 8 + FastJet: cuts, four-momentum sums, truth matching, physics, seeds, resume.

One session-scoped sample of N_JETS top and N_JETS QCD jets (about 10 s of one core) is shared by the tests.
"""

import subprocess
import sys
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from catalogs.jets import production as jets_module
from catalogs.jets.generation import EventSource, JetConfig, visible_particles
from catalogs.jets.production import generate_jets, read_chunk
from catalogs.jets.rootio import read_jets
from catalogs.jets.selection import select_jets
from catalogs.jets.smearing import relative_resolution, smear
from catalogs.jets.substructure import nsubjettiness, softdrop_mass
from common.errors import InputError

N_JETS = 400
TOPTAG = Path(sys.executable).parent / "toptag"


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("jets")
    paths = {process: folder / f"{process}.root" for process in ("top", "qcd")}
    for process, path in paths.items():
        report = generate_jets(JetConfig(process), N_JETS, path, seed=11, chunk_jets=200, quiet=True)
        assert report.n_jets == N_JETS and report.chunks_made == 2
    return paths


def branches(path: Path) -> ak.Array:
    with uproot.open(path) as file:
        return file["tree"].arrays(library="ak")


def dr(eta1, phi1, eta2, phi2) -> np.ndarray:
    dphi = np.angle(np.exp(1j * (np.asarray(phi1) - np.asarray(phi2))))
    return np.hypot(np.asarray(eta1) - np.asarray(eta2), dphi)


def jagged_constituents(path: Path) -> ak.Array:
    jets = read_jets(path)
    counts = jets.mask.sum(axis=1)
    flat = jets.p4[jets.mask].astype(np.float64)
    return ak.zip({name: ak.unflatten(flat[:, k], counts) for k, name in enumerate(["E", "px", "py", "pz"])})


@pytest.mark.parametrize("process", ["top", "qcd"])
def test_every_stored_jet_satisfies_the_cuts(samples: dict[str, Path], process: str) -> None:
    tree = branches(samples[process])
    assert len(tree) == N_JETS
    assert np.all((tree.jet_pt > 550) & (tree.jet_pt < 650) & (np.abs(tree.jet_eta) < 2))
    counts = ak.num(tree.part_px)
    assert np.all(counts > 0) and np.all(counts <= 200) and np.all(tree.jet_nparticles == counts)
    assert np.all(tree.aux_nparticles_all >= tree.jet_nparticles)
    pt = np.hypot(tree.part_px, tree.part_py)
    assert ak.all(pt[:, :-1] >= pt[:, 1:])  # pT-ordered
    assert not ak.any(np.isin(np.abs(ak.flatten(tree.part_pid)), [12, 14, 16]))  # no neutrinos
    charged = np.isin(np.abs(ak.flatten(tree.part_pid)), [11, 13, 211, 321, 2212, 3112, 3222, 3312, 3334])
    assert np.all((ak.flatten(tree.part_charge) != 0) == charged)
    assert np.all(tree.label_Tbqq == (process == "top")) and np.all(tree.label_QCD == (process == "qcd"))


@pytest.mark.parametrize("process", ["top", "qcd"])
def test_constituents_sum_to_the_jet(samples: dict[str, Path], process: str) -> None:
    """Holds for every jet with <= 200 constituents (all stored); jet_* always describe the whole jet."""
    tree = branches(samples[process])
    whole = ak.to_numpy(tree.aux_nparticles_all <= 200)
    assert whole.mean() > 0.99
    pt, eta, phi = (ak.to_numpy(tree[name]).astype(np.float64) for name in ("jet_pt", "jet_eta", "jet_phi"))
    jet = np.stack([ak.to_numpy(tree.jet_energy), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], 1)
    summed = np.stack(
        [
            ak.to_numpy(ak.sum(ak.values_astype(tree[f"part_{k}"], np.float64), axis=1))
            for k in ("energy", "px", "py", "pz")
        ],
        1,
    )
    relative = np.abs(summed - jet)[whole] / jet[whole, :1]  # relative to the jet energy
    assert relative.max() < 1e-4, relative.max()
    mass = np.sqrt(np.maximum(summed[:, 0] ** 2 - np.sum(summed[:, 1:] ** 2, axis=1), 0))
    np.testing.assert_allclose(mass[whole], ak.to_numpy(tree.jet_mass)[whole], rtol=1e-3, atol=0.05)


def test_truncation_keeps_the_hardest_constituents() -> None:
    config = JetConfig("qcd", max_particles=20)
    source = EventSource(config, 5)
    prt = source.events(60)
    kept = select_jets(prt, visible_particles(source, prt), config)
    assert len(kept["jet_pt"]) > 5
    assert np.all(kept["jet_nparticles"] == np.minimum(kept["aux_nparticles_all"], 20))
    full = select_jets(prt, visible_particles(source, prt), JetConfig("qcd"))
    for name in ("part_px", "part_pid"):
        assert ak.to_list(kept[name]) == ak.to_list(full[name][:, :20])
    np.testing.assert_array_equal(kept["jet_pt"], full["jet_pt"])


def test_every_top_jet_contains_the_top_and_its_decay_quarks(samples: dict[str, Path]) -> None:
    tree = branches(samples["top"])
    eta, phi = ak.to_numpy(tree.jet_eta)[:, None], ak.to_numpy(tree.jet_phi)[:, None]
    assert np.all(dr(tree.aux_genpart_eta, tree.aux_genpart_phi, eta[:, 0], phi[:, 0]) < 0.8)
    assert np.all(dr(ak.to_numpy(tree.aux_decay_eta), ak.to_numpy(tree.aux_decay_phi), eta, phi) < 0.8)
    top = ak.to_numpy(tree.aux_genpart_pid)
    quarks = ak.to_numpy(tree.aux_decay_pid)
    assert np.all(np.abs(top) == 6) and np.all(np.isin(np.abs(quarks[:, 0]), [1, 3, 5]))
    charge = np.where(np.abs(quarks) % 2 == 0, 2 / 3, -1 / 3) * np.sign(quarks)
    np.testing.assert_allclose(charge.sum(axis=1), np.sign(top) * 2 / 3)  # t -> b q q' conserves charge
    pt, eta_q, phi_q = (
        ak.to_numpy(tree[f"aux_decay_{k}"])[:, 1:].astype(np.float64) for k in ("pt", "eta", "phi")
    )
    p = np.stack([pt * np.cosh(eta_q), pt * np.cos(phi_q), pt * np.sin(phi_q), pt * np.sinh(eta_q)], -1).sum(
        1
    )
    w_mass = np.sqrt(p[:, 0] ** 2 - np.sum(p[:, 1:] ** 2, axis=1))
    assert 76 < np.median(w_mass) < 84  # the W decay quarks (massless approximation)
    qcd = branches(samples["qcd"])
    assert np.all(np.isin(np.abs(ak.to_numpy(qcd.aux_genpart_pid)), [1, 2, 3, 4, 5, 21]))


def test_top_mass_peaks_at_the_top_mass_and_qcd_does_not(samples: dict[str, Path]) -> None:
    edges = np.arange(0, 310, 10.0)
    peaks = {}
    for process, path in samples.items():
        counts, _ = np.histogram(ak.to_numpy(branches(path).jet_mass), bins=edges)
        peaks[process] = 0.5 * (edges[:-1] + edges[1:])[np.argmax(counts)]
    assert 160 <= peaks["top"] <= 185, peaks
    assert not 160 <= peaks["qcd"] <= 185, peaks


def test_top_jets_have_smaller_tau32_than_qcd(samples: dict[str, Path]) -> None:
    import fastjet

    medians = {}
    for process, path in samples.items():
        parts = jagged_constituents(path)
        tau2, tau3 = nsubjettiness(parts, 2), nsubjettiness(parts, 3)
        medians[process] = np.median(tau3 / tau2)
        sample = ak.Array(
            ak.to_packed(parts[:40])
        )  # against FastJet contrib Nsubjettiness (KT_Axes, beta = 1)
        sequence = fastjet.ClusterSequence(sample, fastjet.JetDefinition(fastjet.antikt_algorithm, 0.8))
        taus = ak.to_numpy(sequence.njettiness(axes_definition="KT_Axes", njets=[2, 3], beta=1.0, R0=0.8))
        np.testing.assert_allclose(np.stack([tau2[:40], tau3[:40]], 1), taus.reshape(40, 2), rtol=1e-5)
    assert medians["top"] < medians["qcd"] - 0.1, medians


def test_softdrop_mass_matches_fastjet_contrib(samples: dict[str, Path]) -> None:
    import fastjet

    for path in samples.values():
        parts = jagged_constituents(path)[:40]
        mine = softdrop_mass(parts)
        sequence = fastjet.ClusterSequence(
            ak.Array(ak.to_packed(parts)), fastjet.JetDefinition(fastjet.cambridge_algorithm, 1000.0)
        )
        groomed = sequence.exclusive_jets_softdrop_grooming(njets=1, beta=0.0, symmetry_cut=0.1, R0=0.8)
        np.testing.assert_allclose(mine, ak.to_numpy(groomed.msoftdrop), rtol=1e-9, atol=1e-9)
        stored = ak.to_numpy(branches(path).jet_sdmass)[:40]  # float32, from the full-precision constituents
        np.testing.assert_allclose(mine, stored, rtol=1e-3, atol=0.05)
    top, qcd = (np.median(ak.to_numpy(branches(samples[p]).jet_sdmass)) for p in ("top", "qcd"))
    assert 150 < top < 190 and qcd < 100


def assert_same_file(a: Path, b: Path) -> None:
    left, right = read_chunk(a), read_chunk(b)
    assert left.keys() == right.keys()
    for name, values in left.items():
        if isinstance(values, ak.Array):
            np.testing.assert_array_equal(ak.num(values), ak.num(right[name]), err_msg=name)
            values, right[name] = ak.flatten(values), ak.flatten(right[name])
        np.testing.assert_array_equal(np.asarray(values), np.asarray(right[name]), err_msg=name)  # NaN == NaN


def test_same_seed_same_events_and_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = JetConfig("qcd")
    generate_jets(config, 60, tmp_path / "a.root", seed=5, chunk_jets=30, quiet=True)
    generate_jets(config, 60, tmp_path / "b.root", seed=5, chunk_jets=30, workers=2, quiet=True)
    assert_same_file(tmp_path / "a.root", tmp_path / "b.root")
    generate_jets(config, 30, tmp_path / "c.root", seed=6, chunk_jets=30, quiet=True)
    assert not np.array_equal(
        read_chunk(tmp_path / "c.root")["jet_pt"], read_chunk(tmp_path / "a.root")["jet_pt"][:30]
    )

    make_chunk = jets_module._make_chunk

    def killed_at_second_chunk(config, n_jets, seed, chunk, path):
        if chunk == 1:
            raise KeyboardInterrupt
        return make_chunk(config, n_jets, seed, chunk, path)

    monkeypatch.setattr(jets_module, "_make_chunk", killed_at_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        generate_jets(config, 60, tmp_path / "d.root", seed=5, chunk_jets=30, quiet=True)
    assert not (tmp_path / "d.root").exists()
    assert len(list((tmp_path / "d.root.parts").glob("chunk_*.root"))) == 1
    with pytest.raises(InputError, match="manifest.json: left by a run with other options"):
        generate_jets(config, 60, tmp_path / "d.root", seed=6, chunk_jets=30, quiet=True)
    monkeypatch.setattr(jets_module, "_make_chunk", make_chunk)
    report = generate_jets(config, 60, tmp_path / "d.root", seed=5, chunk_jets=30, quiet=True)
    assert (report.chunks_reused, report.chunks_made) == (1, 1)
    assert not (tmp_path / "d.root.parts").exists()
    assert_same_file(tmp_path / "a.root", tmp_path / "d.root")


def test_smearing_follows_the_stated_resolution() -> None:
    n = 40_000
    energy = np.repeat([100.0, 100.0, 100.0], n)
    pid = np.repeat([22, 130, 211], n)
    charge = np.repeat([0.0, 0.0, 1.0], n)
    expected = [np.hypot(0.10 / 10, 0.01), np.hypot(0.50 / 10, 0.05), np.hypot(0.005, 1e-4 * 100)]
    np.testing.assert_allclose(relative_resolution(energy[::n], pid[::n], charge[::n]), expected)
    direction = np.array([0.6, 0.0, 0.8])
    columns = {
        "px": energy * direction[0],
        "py": energy * 0,
        "pz": energy * direction[2],
        "E": energy,
        "pid": pid,
        "charge": charge,
    }
    particles = ak.zip({name: ak.unflatten(values, [3 * n]) for name, values in columns.items()})
    smeared = smear(particles, np.random.default_rng(1))
    e = ak.to_numpy(smeared.E[0]).reshape(3, n) / 100
    np.testing.assert_allclose(e.std(axis=1), expected, rtol=0.03)
    np.testing.assert_allclose(e.mean(axis=1), 1, atol=3e-3)
    np.testing.assert_allclose(ak.to_numpy(smeared.px[0]) / ak.to_numpy(smeared.E[0]), 0.6)  # direction kept
    again = smear(particles, np.random.default_rng(1))
    assert ak.to_list(again.E) == ak.to_list(smeared.E)


def test_mpi_switch_adds_particles() -> None:
    assert "PartonLevel:MPI = off" in JetConfig("qcd").pythia_settings()
    counts = {}
    for mpi in (False, True):
        source = EventSource(JetConfig("qcd", mpi=mpi), 3)
        counts[mpi] = np.mean(ak.num(visible_particles(source, source.events(30))))
    assert counts[True] > 1.2 * counts[False], counts


def test_cli_generates_a_smeared_sample_and_refuses_bad_options(tmp_path: Path) -> None:
    out = tmp_path / "smeared.root"
    options = "generate --process qcd --n 20 --seed 2 --smear --quiet --chunk-jets 20".split()
    argv = [str(TOPTAG), *options, "--out", str(out)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "20 qcd jets" in result.stdout.splitlines()[-1]
    smeared = branches(out)
    assert len(smeared) == 20 and np.all((smeared.jet_pt > 550) & (smeared.jet_pt < 650))
    for name, config in (("library.root", JetConfig("qcd", smear=True)), ("plain.root", JetConfig("qcd"))):
        generate_jets(config, 20, tmp_path / name, seed=2, chunk_jets=20, quiet=True)
    cli_pt = ak.to_numpy(smeared.jet_pt)
    np.testing.assert_array_equal(cli_pt, ak.to_numpy(branches(tmp_path / "library.root").jet_pt))
    assert not np.array_equal(cli_pt, ak.to_numpy(branches(tmp_path / "plain.root").jet_pt))
    for bad, field in (
        (["--process", "tau"], "--process"),
        (["--n", "0"], "--n"),
        (["--out", "x.txt"], "--out"),
        (["--bogus", "1"], "No such option: --bogus"),
    ):
        options = {"--process": "top", "--n": "5", "--out": str(tmp_path / "x.root")}
        options.update(dict(zip(bad[::2], bad[1::2], strict=True)))
        result = subprocess.run(
            [str(TOPTAG), "generate", *sum(options.items(), ())], capture_output=True, text=True, timeout=120
        )
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and field in lines[0], result.stderr
        assert not (tmp_path / "x.root").exists() and not (tmp_path / "x.txt").exists()

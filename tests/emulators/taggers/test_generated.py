"""Slow: taggers trained on Pythia 8 jets (catalogs.jets.production) separate top from QCD on a held-out file.

The equivariant taggers (small configurations, about 30k parameters) get 1000 training jets; the PFN
baseline of the same size gets 4000 (with 1000 it stays below AUC 0.9: the data-efficiency gap).
"""

import pytest

from catalogs.jets.generation import JetConfig
from catalogs.jets.production import generate_jets
from emulators.taggers.report import evaluate_tagger
from emulators.taggers.training import train_tagger

SETUPS = {"lorentznet": ({"hidden": 32, "layers": 4}, 1000, 6),
          "lgatr": ({"blocks": 2, "hidden_mv": 4, "hidden_s": 16, "heads": 4}, 1000, 6),
          "pfn": ({"hidden": 84, "latent": 84}, 4000, 10)}


@pytest.fixture(scope="module")
def jets(tmp_path_factory):
    d = tmp_path_factory.mktemp("pythia")
    made = {}
    for name, n, seed in [("train", 2000, 1), ("val", 200, 2), ("test", 1000, 3)]:
        made[name] = [
            generate_jets(JetConfig(process=process), n, d / f"{name}_{process}.root", seed=10 * seed + i,
                          quiet=True).path
            for i, process in enumerate(["top", "qcd"])
        ]
    return made


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SETUPS))
def test_tagger_separates_pythia_top_from_qcd(jets, tmp_path, name) -> None:
    overrides, n_train, epochs = SETUPS[name]
    train_tagger(jets["train"], jets["val"], tmp_path / "tagger", model=name, epochs=epochs, batch_size=32,
                 lr=2e-3, seed=0, max_jets=n_train, overrides=overrides, quiet=True)
    report = evaluate_tagger(tmp_path / "tagger", jets["test"], tmp_path / "report", n_bootstrap=50)
    assert report["metrics"]["auc"]["value"] > 0.9

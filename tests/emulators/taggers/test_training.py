"""Training on ROOT files: tiny taggers separate the toy classes on a held-out file, the run is seeded, and
bad inputs (missing branches, no labels, NaN momenta, one class only) are refused with one clear error."""

import json

import numpy as np
import pytest

from common.errors import InputError
from emulators.taggers.registry import load_tagger
from emulators.taggers.report import evaluate_tagger, predict_file
from emulators.taggers.training import train_tagger

from .tagger_files import one_thread, toy_branches, write_toy_split  # noqa: F401 (autouse fixture)

TINY = {"lorentznet": {"hidden": 16, "layers": 2, "dropout": 0.0},
        "lgatr": {"blocks": 1, "hidden_mv": 4, "hidden_s": 8, "heads": 2, "dropout": 0.0},
        "pfn": {"hidden": 32, "latent": 32, "dropout": 0.0}}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("jets")
    return write_toy_split(d, (200, 200, 100, 300), seed=10)


@pytest.mark.parametrize("name", ["lorentznet", "lgatr", "pfn"])
def test_tiny_tagger_separates_the_toy_classes_on_a_held_out_file(files, tmp_path, name) -> None:
    meta = train_tagger([files["top"], files["qcd"]], [files["val"]], tmp_path / "tagger", model=name,
                        epochs=4, batch_size=32, lr=3e-3, seed=1, overrides=TINY[name], quiet=True)
    assert meta["training"]["n_train"] == {"top": 200, "qcd": 200}
    report = evaluate_tagger(tmp_path / "tagger", [files["test"]], tmp_path / "report", n_bootstrap=20)
    assert report["metrics"]["auc"]["value"] > 0.9
    saved = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert saved["metrics"]["auc"]["value"] == report["metrics"]["auc"]["value"]
    assert (tmp_path / "report" / "roc.png").stat().st_size > 0
    assert not (tmp_path / ".tagger.ckpt").exists()
    n = predict_file(tmp_path / "tagger", files["test"], tmp_path / "scores.h5", quiet=True)
    import h5py

    with h5py.File(tmp_path / "scores.h5") as h5:
        scores, labels = h5["score"][:], h5["label"][:]
    assert n == 300 and labels.sum() == 150
    test_scores = np.load(tmp_path / "report" / "scores.npz")["score"]
    np.testing.assert_allclose(np.sort(scores), np.sort(test_scores), rtol=1e-6)


def test_training_is_seeded(files, tmp_path) -> None:
    kwargs = {"model": "pfn", "epochs": 2, "batch_size": 50, "seed": 4, "overrides": TINY["pfn"],
              "quiet": True}
    train_tagger([files["top"], files["qcd"]], [files["val"]], tmp_path / "a", **kwargs)
    train_tagger([files["top"], files["qcd"]], [files["val"]], tmp_path / "b", **kwargs)
    a, b = load_tagger(tmp_path / "a")[0], load_tagger(tmp_path / "b")[0]
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and np.array_equal(va.numpy(), vb.numpy())


def test_bad_inputs_are_refused_with_one_clear_error(files, tmp_path) -> None:
    from catalogs.jets.rootio import write_jets

    no_labels = {k: v for k, v in toy_branches(20, True, 3).items() if not k.startswith("label_")}
    write_jets(tmp_path / "nolabels.root", [no_labels])
    with pytest.raises(InputError, match=r"nolabels.root: label_"):
        train_tagger([tmp_path / "nolabels.root"], [files["val"]], tmp_path / "t", quiet=True)
    no_momenta = {k: v for k, v in toy_branches(20, True, 3).items() if k != "part_px"}
    write_jets(tmp_path / "nopx.root", [no_momenta])
    with pytest.raises(InputError, match=r"nopx.root: part_px"):
        train_tagger([tmp_path / "nopx.root", files["qcd"]], [files["val"]], tmp_path / "t", epochs=1,
                     quiet=True)
    nan = toy_branches(20, True, 3)
    import awkward as ak

    energy = ak.to_numpy(ak.flatten(nan["part_energy"])).copy()
    energy[5] = np.nan
    nan["part_energy"] = ak.unflatten(energy, ak.num(nan["part_energy"]))
    write_jets(tmp_path / "nan.root", [nan])
    with pytest.raises(InputError, match=r"nan.root: part_energy: jet 0 has a constituent that is not"):
        train_tagger([tmp_path / "nan.root", files["qcd"]], [files["val"]], tmp_path / "t", epochs=1,
                     quiet=True)
    with pytest.raises(InputError, match="both training and validation"):
        train_tagger([files["top"], files["val"]], [files["val"]], tmp_path / "t", quiet=True)
    with pytest.raises(InputError, match="both classes"):
        train_tagger([files["top"]], [files["val"]], tmp_path / "t", quiet=True)
    assert not (tmp_path / "t").exists()

"""The tagger directory: a saved and re-loaded tagger gives the same scores; bad directories are refused;
streamed batches mix one-class files and cover every jet once."""

import json

import numpy as np
import pytest
import torch

from common.errors import InputError
from emulators.taggers import data as tagger_data
from emulators.taggers.lorentz import toy_jets
from emulators.taggers.registry import build_tagger, load_tagger, predict_scores, save_tagger, trim_padding

from .tagger_files import one_thread, write_toy_file  # noqa: F401 (autouse fixture)


@pytest.mark.parametrize("name", ["lorentznet", "lgatr", "pfn"])
def test_save_load_round_trip_gives_identical_scores(tmp_path, name) -> None:
    torch.manual_seed(0)
    overrides = {"references": ["beam"]} if name != "pfn" else None
    model = build_tagger(name, overrides).eval()
    p, mask = toy_jets(6, 20, torch.Generator().manual_seed(1), dtype=torch.float32)
    before = predict_scores(model, p, mask)
    save_tagger(model, name, tmp_path / "tagger", extra={"note": "x"})
    loaded, meta = load_tagger(tmp_path / "tagger")
    assert meta["model"] == name and meta["note"] == "x" and loaded.config == model.config
    np.testing.assert_array_equal(predict_scores(loaded, p, mask), before)
    assert ((before > 0) & (before < 1)).all()


def test_bad_tagger_directories_are_refused(tmp_path) -> None:
    with pytest.raises(InputError, match="not a tagger directory"):
        load_tagger(tmp_path)
    model = build_tagger("pfn", {"hidden": 8, "latent": 8})
    save_tagger(model, "pfn", tmp_path / "t")
    meta = json.loads((tmp_path / "t" / "tagger.json").read_text())
    meta["config"]["hidden"] = 16
    (tmp_path / "t" / "tagger.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="weights do not match"):
        load_tagger(tmp_path / "t")
    with pytest.raises(InputError, match="model: expected one of"):
        build_tagger("transformer")


@pytest.mark.parametrize("case", ["unknown model", "array", "bad width", "unknown key", "truncated",
                                  "bit flip", "bad max_particles"])
def test_damaged_tagger_artifacts_name_the_file_and_field(tmp_path, case) -> None:
    folder = save_tagger(build_tagger("pfn", {"hidden": 8, "latent": 8}), "pfn", tmp_path / "t")
    cfg, weights = folder / "tagger.json", folder / "weights.safetensors"
    meta = json.loads(cfg.read_text())
    culprit = {"unknown model": "tagger.json: model", "array": "tagger.json: config",
               "bad width": "tagger.json: model: pfn config: hidden", "unknown key": "unknown keys ['width']",
               "truncated": "weights.safetensors: sha256", "bit flip": "weights.safetensors: sha256",
               "bad max_particles": "tagger.json: training.max_particles"}[case]
    if case == "unknown model":
        meta["model"] = "transformer"
    elif case == "array":
        meta = [meta]
    elif case == "bad width":
        meta["config"]["hidden"] = "wide"
    elif case == "unknown key":
        meta["config"]["width"] = 3
    elif case == "bad max_particles":
        meta["training"] = {"max_particles": 0}
    elif case == "truncated":
        weights.write_bytes(weights.read_bytes()[:-100])
    else:
        data = bytearray(weights.read_bytes())
        data[-5] ^= 0x10
        weights.write_bytes(bytes(data))
    cfg.write_text(json.dumps(meta))
    with pytest.raises(InputError, match=culprit.replace("[", r"\[").replace("]", r"\]")):
        load_tagger(folder)


def test_trim_padding_drops_only_unused_columns() -> None:
    p = torch.arange(40, dtype=torch.float32).reshape(2, 5, 4)
    mask = torch.tensor([[1, 1, 0, 0, 0], [1, 0, 1, 0, 0]], dtype=torch.bool)
    pt, mt = trim_padding(p, mask)
    assert torch.equal(pt, p[:, :3]) and torch.equal(mt, mask[:, :3])


def test_streamed_batches_mix_one_class_files_and_cover_every_jet(tmp_path) -> None:
    top = write_toy_file(tmp_path / "top.root", 300, True, 1)
    qcd = write_toy_file(tmp_path / "qcd.root", 100, False, 2)
    files = tagger_data.scan_files([top, qcd], "TRAIN")
    batches = list(tagger_data.stream_batches(files, 32, shuffle=True, seed=3, epoch=0, round_jets=100))
    labels = torch.cat([b[2] for b in batches])
    assert len(labels) == 400 and int(labels.sum()) == 300
    first_half = torch.cat([b[2] for b in batches[:6]])  # 192 jets: a quarter are QCD in every round
    assert 0.15 < 1 - float(first_half.mean()) < 0.35
    energies = torch.cat([b[0][..., 0].sum(1) for b in batches])
    p, mask, label = tagger_data.read_all(files)
    np.testing.assert_allclose(np.sort(energies.numpy()), np.sort(p[..., 0].sum(1)), rtol=1e-6)
    again = list(tagger_data.stream_batches(files, 32, shuffle=True, seed=3, epoch=0, round_jets=100))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(batches, again, strict=True))
    limited = tagger_data.scan_files([top, qcd], "TRAIN", max_jets=40)
    assert tagger_data.class_counts(limited).tolist() == [10, 30]


def test_fixed_width_batches_hold_the_same_jets_padded(tmp_path) -> None:
    """Batches for a compiled model have one shape; they carry the same jets as the trimmed ones."""
    top = write_toy_file(tmp_path / "top.root", 70, True, 4)
    qcd = write_toy_file(tmp_path / "qcd.root", 70, False, 5)
    files = tagger_data.scan_files([top, qcd], "TRAIN")
    kwargs = {"shuffle": True, "seed": 1, "epoch": 2, "max_particles": 16}
    trimmed = list(tagger_data.stream_batches(files, 32, **kwargs))
    fixed = list(tagger_data.stream_batches(files, 32, width=16, **kwargs))
    assert {b[0].shape[1] for b in fixed} == {16} and len({b[0].shape[1] for b in trimmed}) > 1
    for (p, mask, label), (q, qmask, qlabel) in zip(trimmed, fixed, strict=True):
        assert torch.equal(mask, qmask[:, : mask.shape[1]])
        width = p.shape[1]
        assert torch.equal(p, q[:, :width]) and torch.equal(label, qlabel)
        assert not qmask[:, width:].any() and not q[:, width:].any()

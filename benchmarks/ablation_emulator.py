"""IA emulator design choices measured against a known truth: ours vs IAEmu's choices, one at a time.

    .venv/bin/python benchmarks/ablation_emulator.py [--seeds 0 1] [--epochs 120] [--members 2]

Data: the synthetic dataset of the tests (tests/emulators/ia/synthetic.py: 3 parameters, 8 bins, known mean
and heteroscedastic noise, R = 8), 540 training + 60 validation rows, 200 fresh test rows. Variants: ours
(LayerNorm, SiLU, no dropout, likelihood of all realisations); IAEmu's BatchNorm + LeakyReLU + dropout 0.2;
BatchNorm alone; the realisation-mean loss alone. One JSON line per variant and seed: median |prediction -
truth| / σ_mean, median and mean of predicted aleatoric variance / true variance of the mean, 68% coverage
of the test rows' realisation means, per statistic (ξ, ω, η).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from emulators.ia.data import read_mocks
from emulators.ia.losses import BetaSchedule
from emulators.ia.network import ModelConfig
from emulators.ia.train import EmulatorSettings, train_emulator
from emulators.trainer import TrainConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the synthetic dataset lives with the tests
from tests.emulators.ia.synthetic import noise_sd, truth, write_dataset  # noqa: E402

VARIANTS = {
    "ours": {},
    "iaemu_norm_act_dropout": {"norm": "batch", "activation": "leaky_relu", "dropout": 0.2},
    "batchnorm": {"norm": "batch"},
    "mean_only_loss": {"use_scatter": False},
}


def run(variant: dict, seed: int, epochs: int, members: int, folder: Path) -> dict:
    data = read_mocks(folder / "train.h5")
    test = read_mocks(folder / "test.h5")
    model = {k: v for k, v in variant.items() if k != "use_scatter"}
    settings = EmulatorSettings(
        members=members, use_scatter=variant.get("use_scatter", True), beta=BetaSchedule(warmup_epochs=20),
        model=replace(ModelConfig(hidden=64, n_blocks=2, latent=64, dec_channels=[8, 16, 16]), **model),
        train=TrainConfig(epochs=epochs, batch_size=64, lr=3e-3, warmup_epochs=5, patience=40, seed=seed,
                          cpu_threads=1))
    rows = np.arange(600)
    emulator, _ = train_emulator(data.subset(rows[:540]), data.subset(rows[540:]), settings, quiet=True)
    pred = emulator.predict(test.params)
    mu = truth(test.params, test.r)
    sd = noise_sd(test.params, test.r)
    sd[:, 0] *= mu[:, 0]
    sem2 = sd**2 / test.n_real
    z = (pred.mean - test.mean) / np.sqrt(pred.total)
    per_stat = {
        "median_err_over_sigma_mean": np.median(np.abs(pred.mean - mu) / np.sqrt(sem2), axis=(0, 2)),
        "median_aleatoric_over_true": np.median(pred.aleatoric / sem2, axis=(0, 2)),
        "mean_aleatoric_over_true": np.mean(pred.aleatoric / sem2, axis=(0, 2)),
        "coverage_68": np.mean(np.abs(z) < 0.9945, axis=(0, 2)),
    }
    return {k: np.round(v, 3).tolist() for k, v in per_stat.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=int, default=120)
    parser.add_argument("--members", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_dataset(folder / "train.h5", 600, 8, seed=1)
        write_dataset(folder / "test.h5", 200, 8, seed=2)
        for seed in args.seeds:
            for name, variant in VARIANTS.items():
                result = run(variant, seed, args.epochs, args.members, folder)
                print(json.dumps({"benchmark": "emulator_ablation", "variant": name, "seed": seed,
                                  "statistics": ["xi", "omega", "eta"], **result}), flush=True)


if __name__ == "__main__":
    main()

"""IA emulator throughput: training samples/s, prediction samples/s at batch 1 and 65,536, vs the simulator.

    .venv/bin/python benchmarks/bench_emulator.py [--members 5] [--rows 1000] [--epochs 5]
        [--devices cpu cuda] [--threads 1 2] [--mocks-result mocks.jsonl] [--seed 0]

Training: one network of the default architecture on ``rows`` synthetic rows (7 parameters, 4
realisations, the default 20 bins), batch 64, float32 (bf16 autocast on CUDA). Prediction: the network
forward pass (fp32, eager, no grad) of a ``members``-member ensemble and of one member, and the full
``TorchEmulator.predict`` (scalers, ensemble reduction, physical units) at batch 1 and 65,536. With
``--mocks-result`` (the JSON lines of ``benchmarks/bench_mocks.py``) the simulator's seconds per
realisation and per 4-realisation point are printed beside the emulator's, with the speed-up ratios.
Prints one JSON line per measurement.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from emulators.ia.data import MockData, Scalers
from emulators.ia.emulator import TorchEmulator
from emulators.ia.network import Ensemble, IAEmuNet, ModelConfig
from emulators.ia.train import EmulatorSettings, train_emulator
from emulators.trainer import cpu_threads, seed_everything

N_PARAMS, N_BINS, N_REAL = 7, 20, 4


def synthetic(rows: int, seed: int) -> MockData:
    """Random rows shaped like a default mock dataset (content is irrelevant to throughput)."""
    rng = np.random.default_rng(seed)
    params = rng.uniform(-1, 1, (rows, N_PARAMS))
    r_edges = np.logspace(-1, 1.2, N_BINS + 1)
    mean = rng.normal(size=(rows, 3, N_BINS))
    mean[:, 0] = np.exp(mean[:, 0])
    std = 0.1 * np.abs(rng.normal(size=(rows, 3, N_BINS))) + 0.01
    return MockData(
        "synthetic",
        params,
        [f"p{i}" for i in range(N_PARAMS)],
        -np.ones(N_PARAMS),
        np.ones(N_PARAMS),
        0.5 * (r_edges[1:] + r_edges[:-1]),
        r_edges,
        mean,
        std,
        N_REAL,
        "0" * 64,
        {},
        np.arange(rows),
    )


def emit(**record: object) -> None:
    print(
        json.dumps(
            {
                "benchmark": "emulator",
                **record,
                "torch": torch.__version__,
                "python": platform.python_version(),
            }
        ),
        flush=True,
    )


def bench_training(device: str, rows: int, epochs: int, seed: int) -> float:
    data = synthetic(rows, seed)
    base = EmulatorSettings()
    settings = EmulatorSettings(
        members=1,
        train=type(base.train)(**{**vars(base.train), "epochs": epochs, "device": device, "seed": seed}),
    )
    _, histories = train_emulator(
        data.subset(np.arange(int(0.9 * rows))),
        data.subset(np.arange(int(0.9 * rows), rows)),
        settings,
        quiet=True,
    )
    h = histories[0]
    rate = h["samples_seen"] / h["seconds"]
    emit(
        measure="train",
        device=device,
        rows=rows,
        epochs=len(h["train_loss"]),
        batch_size=64,
        threads=settings.train.cpu_threads if device == "cpu" else None,
        samples_per_s=round(rate, 1),
    )
    return rate


def timed(fn, device: torch.device, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_prediction(device_name: str, members: int, threads: int, seed: int) -> dict[str, float]:
    device = torch.device(device_name)
    cfg = ModelConfig(n_params=N_PARAMS, n_bins=N_BINS)
    seed_everything(seed)
    net = Ensemble(cfg, [IAEmuNet(cfg) for _ in range(members)]).to(device).eval()
    scalers = Scalers(-np.ones(N_PARAMS), np.ones(N_PARAMS), np.zeros((3, N_BINS)), np.ones((3, N_BINS)))
    emulator = TorchEmulator(
        net, scalers, [f"p{i}" for i in range(N_PARAMS)], np.ones(N_BINS), np.ones(N_BINS + 1), N_REAL
    )
    results = {}
    with cpu_threads(threads if device.type == "cpu" else None), torch.no_grad():
        for batch in (1, 65536):
            x = torch.rand(batch, N_PARAMS, device=device) * 2 - 1
            params = np.random.default_rng(seed).uniform(-1, 1, (batch, N_PARAMS))
            repeats = 200 if batch == 1 else (20 if device.type == "cuda" else 1)
            for what, fn in (
                ("forward_ensemble", lambda x=x: net(x)),
                ("forward_one_member", lambda x=x: net.member0(x)),
                ("predict_physical", lambda p=params: emulator.predict(p)),
            ):
                seconds = timed(fn, device, repeats)
                results[f"{what}_{batch}"] = batch / seconds
                emit(
                    measure="predict",
                    what=what,
                    device=device_name,
                    members=members if what != "forward_one_member" else 1,
                    threads=threads if device.type == "cpu" else None,
                    batch=batch,
                    seconds=seconds,
                    ms_per_call=round(seconds * 1e3, 4),
                    samples_per_s=round(batch / seconds, 1),
                )
    return results


def simulator_line(path: Path, rates: dict) -> None:
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip().startswith("{")]
    mocks = [m for m in lines if m.get("benchmark") == "mocks"]
    if not mocks:
        emit(measure="simulator", note=f"{path}: no mocks benchmark line")
        return
    one = min(mocks, key=lambda m: m["workers"])
    per_real = 1.0 / one["realisations_per_s_per_core"]
    per_point = N_REAL * per_real
    emit(
        measure="simulator",
        source=str(path),
        halos=one.get("halos"),
        sim_seconds_per_realisation_per_core=per_real,
        sim_seconds_per_point=per_point,
        realisations_per_point=N_REAL,
        speedup_batch_1=per_point * rates["predict_physical_1"],
        speedup_batch_65536=per_point * rates["predict_physical_65536"],
        emulator_measured_on=rates["label"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--devices", nargs="+", default=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--mocks-result", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    devices = [d for d in args.devices if d == "cpu" or torch.cuda.is_available()]
    rates: dict = {}
    for device in devices:
        bench_training(device, args.rows, args.epochs, args.seed)
        for threads in args.threads if device == "cpu" else [0]:
            rates = bench_prediction(device, args.members, threads, args.seed)
            rates["label"] = f"{device}, {threads} threads" if device == "cpu" else device
    if args.mocks_result is not None:
        simulator_line(args.mocks_result, rates)


if __name__ == "__main__":
    main()

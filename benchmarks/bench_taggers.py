"""Training and inference throughput (jets/s) of each tagger at a fixed number of constituents.

    .venv/bin/python benchmarks/bench_taggers.py [--device cpu|cuda] [--constituents 200] [--models ...]
        [--train-batch B] [--infer-batch B] [--steps S] [--amp bf16|off] [--compile] [--threads T]

Prints one JSON line per (model, mode). Training = forward, BCE loss, backward and an AdamW step; every jet
holds `--constituents` real constituents (no padding), toy jets from `emulators.taggers.lorentz.toy_jets`. On
CUDA `--amp bf16` runs the networks under bf16 autocast (Minkowski products stay fp32).
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from emulators.taggers.lorentz import toy_jets
from emulators.taggers.registry import MODELS, build_tagger, count_parameters


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(step, device: torch.device, steps: int, warmup: int) -> float:
    for _ in range(warmup):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return time.perf_counter() - start


def bench_model(name: str, device: torch.device, n: int, train_batch: int, infer_batch: int, steps: int,
                amp: bool, compile_model: bool) -> list[dict]:
    """Measure training and inference jets/s of tagger `name`; returns the two result records."""
    torch.manual_seed(0)
    model = build_tagger(name).to(device)
    params = count_parameters(model)
    forward = torch.compile(model) if compile_model else model
    gen = torch.Generator().manual_seed(0)
    p, _ = toy_jets(max(train_batch, infer_batch), n, gen, dtype=torch.float32)
    p = p.to(device)
    mask = torch.ones(p.shape[:2], dtype=torch.bool, device=device)
    labels = (torch.arange(len(p), device=device) % 2).float()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp)

    def train_step() -> None:
        opt.zero_grad(set_to_none=True)
        with autocast:
            logits = forward(p[:train_batch], mask[:train_batch]).float()
        torch.nn.functional.binary_cross_entropy_with_logits(logits, labels[:train_batch]).backward()
        opt.step()

    @torch.no_grad()
    def infer_step() -> None:
        with autocast:
            forward(p[:infer_batch], mask[:infer_batch])

    common = {"model": name, "params": params, "device": device.type, "constituents": n, "amp": amp,
              "compile": compile_model, "torch": torch.__version__, "threads": torch.get_num_threads(),
              "host": platform.node()}
    model.train()
    t_train = _timed(train_step, device, steps, warmup=2)
    model.eval()
    t_infer = _timed(infer_step, device, steps, warmup=2)
    return [
        {**common, "mode": "train", "batch": train_batch, "jets_per_s": steps * train_batch / t_train},
        {**common, "mode": "inference", "batch": infer_batch, "jets_per_s": steps * infer_batch / t_infer},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--constituents", type=int, default=200)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--train-batch", type=int, default=None, help="default 8 on CPU, 128 on CUDA")
    parser.add_argument("--infer-batch", type=int, default=None, help="default 16 on CPU, 512 on CUDA")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--amp", choices=["bf16", "off"], default="off")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    train_batch = args.train_batch or (128 if cuda else 8)
    infer_batch = args.infer_batch or (512 if cuda else 16)
    for name in args.models:
        for record in bench_model(name, device, args.constituents, train_batch, infer_batch, args.steps,
                                  args.amp == "bf16", args.compile):
            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()

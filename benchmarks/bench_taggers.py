"""Training and inference throughput (jets/s) of each tagger, and of the published LorentzNet beside ours.

    .venv/bin/python benchmarks/bench_taggers.py [--device cpu|cuda] [--constituents 200] [--models ...]
        [--train-batch B] [--infer-batch B] [--steps S] [--amp bf16|off] [--compile] [--threads T]
        [--reference .reference/LorentzNet-release]

Prints one JSON line per (model, mode). Training = forward, loss, backward and an AdamW step; every jet holds
`--constituents` real constituents (no padding), toy jets from `emulators.taggers.lorentz.toy_jets`. `--amp
bf16` runs the networks under bf16 autocast on CUDA, and on a CPU with native bf16 (AVX512-BF16 or AMX), as
`toptag train --precision auto` does (Minkowski products stay float32).

`--reference DIR` also times the training step of the LorentzNet of Gong et al. (`models.py` of
github.com/sdogsq/LorentzNet-release, GPL, fetched by the user into the git-ignored DIR, never committed:
`git clone https://github.com/sdogsq/LorentzNet-release .reference/LorentzNet-release`) at its published
size (72 wide, 6 layers), in float32 and under the same autocast, interleaved with ours at the same size on
the same jets, and prints a last line with the ratios of the best of `--repeats` (timing noise only slows).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from emulators.taggers.lorentz import toy_jets
from emulators.taggers.registry import MODELS, build_tagger, count_parameters
from emulators.trainer import cpu_has_bf16


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(step: Callable[[], None], device: torch.device, steps: int, warmup: int) -> float:
    for _ in range(warmup):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return time.perf_counter() - start


def _bf16(device: torch.device, amp: bool) -> bool:
    """Whether bf16 autocast is asked for and native on `device` (CUDA, or a CPU with AVX512-BF16/AMX)."""
    return amp and (device.type == "cuda" or cpu_has_bf16())


def _autocast(device: torch.device, amp: bool) -> contextlib.AbstractContextManager:
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=_bf16(device, amp))


def _jets(n_jets: int, n: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    p, _ = toy_jets(n_jets, n, torch.Generator().manual_seed(0), dtype=torch.float32)
    mask = torch.ones(p.shape[:2], dtype=torch.bool)
    labels = (torch.arange(n_jets) % 2).float()
    return p.to(device), mask.to(device), labels.to(device)


def train_step(model: torch.nn.Module, forward: Callable, p: torch.Tensor, mask: torch.Tensor,
               labels: torch.Tensor, device: torch.device, amp: bool) -> Callable[[], None]:
    """One training step of one of our taggers (BCE on logits, AdamW) on fixed jets."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with _autocast(device, amp):
            logits = forward(p, mask).float()
        torch.nn.functional.binary_cross_entropy_with_logits(logits, labels).backward()
        opt.step()

    return step


def bench_model(name: str, device: torch.device, n: int, train_batch: int, infer_batch: int, steps: int,
                amp: bool, compile_model: bool) -> list[dict]:
    """Measure training and inference jets/s of tagger `name`; returns the two result records."""
    torch.manual_seed(0)
    model = build_tagger(name).to(device)
    forward = torch.compile(model) if compile_model else model
    p, mask, labels = _jets(max(train_batch, infer_batch), n, device)
    train = train_step(model, forward, p[:train_batch], mask[:train_batch], labels[:train_batch], device, amp)

    @torch.no_grad()
    def infer_step() -> None:
        with _autocast(device, amp):
            forward(p[:infer_batch], mask[:infer_batch])

    common = _record(name, count_parameters(model), device, n, amp) | {"compile": compile_model}
    model.train()
    t_train = _timed(train, device, steps, warmup=2)
    model.eval()
    t_infer = _timed(infer_step, device, steps, warmup=2)
    return [
        {**common, "mode": "train", "batch": train_batch, "jets_per_s": steps * train_batch / t_train},
        {**common, "mode": "inference", "batch": infer_batch, "jets_per_s": steps * infer_batch / t_infer},
    ]


def _record(name: str, params: int, device: torch.device, n: int, amp: bool) -> dict:
    return {"model": name, "params": params, "device": device.type, "constituents": n,
            "amp": _bf16(device, amp), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "host": platform.node()}


def reference_step(directory: Path, p: torch.Tensor, labels: torch.Tensor, device: torch.device,
                   amp: bool) -> tuple[torch.nn.Module, Callable[[], None]]:
    """The published LorentzNet (its `models.py` from `directory`) at its top-tagging size, and one
    training step of it on the jets p (B, N, 4) in its own input format (edge lists, two node scalars)."""
    spec = importlib.util.spec_from_file_location("lorentznet_reference", directory / "models.py")
    if spec is None or not (directory / "models.py").is_file():
        sys.exit(f"error: {directory / 'models.py'}: not found; fetch it with `git clone "
                 f"https://github.com/sdogsq/LorentzNet-release {directory}`")
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    torch.manual_seed(0)
    model = ref.LorentzNet(n_scalar=2, n_hidden=72, n_class=2, n_layers=6, c_weight=1e-3, dropout=0.2)
    model = model.to(device)
    b, n = p.shape[:2]
    i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    off = (torch.arange(b) * n)[:, None]
    pairs = i != j
    edges = [(i[pairs][None] + off).reshape(-1).to(device), (j[pairs][None] + off).reshape(-1).to(device)]
    x = (p / 100.0).reshape(b * n, 4)  # their training scales momenta by a constant too
    scalars = ref.psi(torch.stack([ref.normsq4(x), torch.zeros_like(x[:, 0])], -1))
    node_mask, edge_mask = torch.ones(b * n, 1, device=device), torch.ones(b * n * n, 1, device=device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    target = labels.long()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with _autocast(device, amp):
            out = model(scalars=scalars, x=x, edges=edges, node_mask=node_mask, edge_mask=edge_mask,
                        n_nodes=n).float()
        torch.nn.functional.cross_entropy(out, target).backward()
        opt.step()

    return model, step


def compare_reference(directory: Path, device: torch.device, n: int, batch: int, steps: int,
                      repeats: int) -> list[dict]:
    """Training jets/s of our LorentzNet (published size) and the reference, float32 and bf16 autocast,
    interleaved `repeats` times on the same jets; the records (best of the repeats), then the ratios."""
    p, mask, labels = _jets(batch, n, device)
    runs: dict[tuple[str, bool], list[float]] = {}
    params = {}
    for _ in range(repeats):
        for amp in (False, True):
            torch.manual_seed(0)
            ours = build_tagger("lorentznet").to(device).train()
            ref, ref_step = reference_step(directory, p, labels, device, amp)
            ref.train()
            params = {"lorentznet": count_parameters(ours), "reference": count_parameters(ref)}
            for name, step in (("lorentznet", train_step(ours, ours, p, mask, labels, device, amp)),
                               ("reference", ref_step)):
                runs.setdefault((name, amp), []).append(batch * steps / _timed(step, device, steps, 2))
    records = [{**_record(name, params[name], device, n, amp), "mode": "train", "batch": batch,
                "jets_per_s": max(values), "repeats": values}
               for (name, amp), values in runs.items()]
    rate = {(r["model"], r["amp"]): r["jets_per_s"] for r in records}
    amp_on = any(r["amp"] for r in records)
    ratio = {"comparison": "lorentznet / reference, training jets/s", "constituents": n, "batch": batch,
             "threads": torch.get_num_threads(), "device": device.type,
             "fp32_vs_fp32": rate[("lorentznet", False)] / rate[("reference", False)],
             "ours_bf16_vs_reference_fp32": rate[("lorentznet", amp_on)] / rate[("reference", False)],
             "bf16_vs_bf16": rate[("lorentznet", amp_on)] / rate[("reference", amp_on)]}
    return [*records, ratio]


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
    parser.add_argument("--reference", type=Path, default=None,
                        help="folder holding LorentzNet-release's models.py: compare with it instead")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats of the comparison")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    train_batch = args.train_batch or (128 if cuda else 8)
    infer_batch = args.infer_batch or (512 if cuda else 16)
    if args.reference is not None:
        for record in compare_reference(args.reference, device, args.constituents, train_batch, args.steps,
                                        args.repeats):
            print(json.dumps(record), flush=True)
        return
    for name in args.models:
        for record in bench_model(name, device, args.constituents, train_batch, infer_batch, args.steps,
                                  args.amp == "bf16", args.compile):
            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()

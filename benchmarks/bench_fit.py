"""Sampler efficiency on one emulator and one data set: numpyro NUTS vs emcee vs Pyro NUTS on the torch model.

    python benchmarks/bench_fit.py --emulator emu/ [--tng data.h5] [--cases 7,2] [--samplers emcee,...]

Prints, per case, one JSON line with the cost of one value-plus-gradient at batch 1 (JAX port vs torch
autograd), then one JSON line per (case, sampler): bulk/tail ESS (worst parameter), wall time without
compilation, compile time, ESS/s, ESS per gradient (emcee: per density evaluation), R-hat, divergences,
posterior means; then one line per case with the ratios measured in this run. ``numpyro-nuts`` adapts a
diagonal mass matrix as Pyro's NUTS does; ``numpyro-nuts-dense`` (not run by default) a dense one, as
``iaemu fit`` does. Cases: ``7`` frees every
parameter, ``2`` frees μ_cen and μ_sat with the HOD fixed at the truth. Without ``--tng`` the data are the
emulator's own mean at ``--truth`` (default: the centre of the box) with independent errors of ``--rel-err``
× |value| + ``--floor``.

Pyro NUTS (the IAEmu paper's approach) runs on the torch emulator in float32 with the same likelihood
(emulator variance and excess error added to the data covariance, log-determinant included), the same
prior, the same unconstrained (logit) parameterisation and the same target acceptance (``--target-accept``,
default the IA fits' 0.9); its chains run one after the other, and it compiles nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from inference.ia.emulator_jax import load_jax_emulator
from inference.ia.fit import FitSettings, sample_posterior
from inference.ia.likelihood import IA_TARGET_ACCEPT, IALikelihood, build_likelihood
from inference.ia.observations import Observation, read_observation
from inference.sampling.diagnostics import parameter_summary, run_diagnostics
from inference.sampling.nuts import SamplerResult


def synthetic_observation(emu, truth: np.ndarray, rel_err: float, floor: float, seed: int) -> Observation:
    """The emulator's mean at ``truth`` plus Gaussian noise with sd = rel_err |value| + floor (diagonal)."""
    mean = np.asarray(emu.predict(jnp.asarray(truth, jnp.float32)).mean, float)
    sd = rel_err * np.abs(mean) + floor
    data = mean + sd * np.random.default_rng(seed).normal(size=mean.shape)
    values = {s: data[i] for i, s in enumerate(emu.statistics)}
    return Observation(emu.r, values, np.diag(sd.reshape(-1) ** 2), emu.r_edges, name="synthetic")


def torch_potential(emulator_dir: Path, like: IALikelihood):
    """U(z) = -log posterior in logit coordinates, computed with the torch emulator (float32 network)."""
    import torch

    from emulators.ia.artifact import load_emulator

    emu = load_emulator(emulator_dir)
    emu.net.eval()
    sc = emu.scalers
    box_lo, box_hi = (torch.as_tensor(a, dtype=torch.float64) for a in (sc.prior_lo, sc.prior_hi))
    center, scale = (torch.as_tensor(a, dtype=torch.float64) for a in (sc.center, sc.scale))
    lo = torch.as_tensor(like.space.lo[like.space.free_index], dtype=torch.float64)
    hi = torch.as_tensor(like.space.hi[like.space.free_index], dtype=torch.float64)
    base = torch.as_tensor([like.space.fixed.get(n, 0.0) for n in like.space.names], dtype=torch.float64)
    free = torch.as_tensor(like.space.free_index)
    stat_idx = [like.emulator.statistics.index(s) for s in like.stats]
    is_log = torch.as_tensor(
        [like.emulator.transforms[i] == "log" for i in range(len(like.emulator.statistics))]
    )
    n_train, n_real = like.emulator.n_train, like.emulator.n_realisations
    data = torch.as_tensor(like.data, dtype=torch.float64)
    cov = torch.as_tensor(like.cov, dtype=torch.float64)
    excess = like.error_covariance
    err = None if excess is None else torch.as_tensor(excess, dtype=torch.float64)
    calls = {"n": 0}

    def potential(params: dict) -> torch.Tensor:
        calls["n"] += 1
        z = params["z"]
        s = torch.sigmoid(z)
        theta = base.clone()
        theta[free] = lo + (hi - lo) * s
        x = (2 * (theta - box_lo) / (box_hi - box_lo) - 1).float()[None]
        out = emu.net(x)[:, 0].double()  # (M, 2, S, B)
        mu, var = out[:, 0] * scale + center, out[:, 1] * scale**2
        mean_t, epi_t, single_t = mu.mean(0), mu.var(0, unbiased=False), var.mean(0)
        log_mask = is_log[:, None]
        phys = torch.exp(torch.where(log_mask, mean_t + 0.5 * (single_t / n_train + epi_t), 0.0))
        mean = torch.where(log_mask, phys, mean_t)
        alea = torch.where(log_mask, torch.expm1(single_t / n_real) * phys**2, single_t / n_real)
        epi = torch.where(log_mask, torch.expm1(epi_t) * phys**2, epi_t)
        v = {"none": 0 * alea, "aleatoric": alea, "epistemic": epi, "both": alea + epi}[
            like.emulator_variance
        ]
        m = torch.cat([mean[i] for i in stat_idx])
        total = cov + torch.diag(torch.cat([v[i] for i in stat_idx]))
        if err is not None:  # the emulator's excess error, in units of one realisation's sd
            single = torch.sqrt(torch.cat([alea[i] for i in stat_idx]) * n_real)
            total = total + single[:, None] * err * single[None, :]
        loglike = torch.distributions.MultivariateNormal(m, covariance_matrix=total).log_prob(data)
        log_jac = torch.sum(torch.log(hi - lo) + torch.log(s) + torch.log1p(-s))
        return -(loglike + log_jac)

    return potential, calls


def time_gradient(emulator_dir: Path, like: IALikelihood, repeats: int) -> dict:
    """Milliseconds per value-plus-gradient of the log posterior at batch 1: the jitted JAX port vs torch
    autograd on the torch emulator (what Pyro's NUTS calls), at the centre of the free parameters' box."""
    import torch

    lo, hi = like.space.lo[like.space.free_index], like.space.hi[like.space.free_index]
    value_and_grad = jax.jit(jax.value_and_grad(like.log_density))
    theta = jnp.asarray(0.5 * (lo + hi))
    value_and_grad(theta)[1].block_until_ready()
    start = time.perf_counter()
    for _ in range(repeats):
        _, grad = value_and_grad(theta)
    grad.block_until_ready()
    jax_ms = (time.perf_counter() - start) / repeats * 1e3
    potential, _ = torch_potential(emulator_dir, like)
    z = torch.zeros(len(lo), dtype=torch.float64, requires_grad=True)
    start = time.perf_counter()
    for _ in range(max(1, repeats // 10)):
        torch.autograd.grad(potential({"z": z}), z)
    torch_ms = (time.perf_counter() - start) / max(1, repeats // 10) * 1e3
    return {"jax_value_and_grad_ms": jax_ms, "torch_value_and_grad_ms": torch_ms,
            "torch_over_jax": torch_ms / jax_ms}


def run_pyro(
    emulator_dir: Path, like: IALikelihood, chains: int, warmup: int, samples: int, target_accept: float,
    seed: int,
) -> SamplerResult:
    """Pyro NUTS on the torch emulator, chains in sequence; gradients counted by potential evaluations."""
    import pyro
    import torch
    from pyro.infer import MCMC, NUTS

    potential, calls = torch_potential(emulator_dir, like)
    draws, wall = [], 0.0
    for c in range(chains):
        pyro.set_rng_seed(seed + c)
        init = {"z": torch.randn(len(like.space.free), dtype=torch.float64) * 0.5}
        mcmc = MCMC(
            NUTS(potential_fn=potential, target_accept_prob=target_accept),
            num_samples=samples,
            warmup_steps=warmup,
            initial_params=init,
            num_chains=1,
            disable_progbar=True,
        )
        start = time.perf_counter()
        mcmc.run()
        wall += time.perf_counter() - start
        z = mcmc.get_samples()["z"].numpy()
        draws.append(
            like.space.lo[like.space.free_index]
            + (like.space.hi - like.space.lo)[like.space.free_index] / (1 + np.exp(-z))
        )
    stacked = np.stack(draws)  # (chains, samples, F)
    samples_dict = {n: stacked[..., i] for i, n in enumerate(like.space.free)}
    zeros = np.zeros(stacked.shape[:2])
    return SamplerResult(
        "pyro-nuts",
        samples_dict,
        {"diverging": zeros.astype(bool), "num_steps": zeros},
        wall,
        0.0,
        calls["n"],
        calls["n"],
        {"chains": chains, "warmup": warmup, "samples": samples},
    )


def measure(case: str, name: str, result: SamplerResult, like: IALikelihood) -> dict:
    """One JSON line: efficiency and convergence of a run."""
    table = parameter_summary(result, list(like.space.free))
    diag = run_diagnostics(result, table=table)
    per_grad = diag["ess_per_gradient"] if result.n_gradient_evals else None
    line = {
        "bench": "fit",
        "case": case,
        "sampler": name,
        "min_ess_bulk": diag["min_ess_bulk"],
        "min_ess_tail": diag["min_ess_tail"],
        "wall_s": round(result.wall_time_s, 3),
        "compile_s": round(result.compile_time_s, 3),
        "ess_per_s": diag["ess_per_s"],
        "ess_per_gradient": per_grad,
        "ess_per_density_eval": diag["ess_per_evaluation"],
        "n_gradients": result.n_gradient_evals,
        "n_density_evals": result.n_density_evals,
        "max_r_hat": diag["max_r_hat"],
        "divergences": diag["divergences"],
        "posterior_mean": {n: round(table[n]["mean"], 5) for n in like.space.free},
        "posterior_sd": {n: round(table[n]["sd"], 5) for n in like.space.free},
        "device": jax.devices()[0].platform,
    }
    print(json.dumps(line), flush=True)
    return line


def ratio(lines: dict, a: str, b: str, key: str) -> float | None:
    """lines[a][key] / lines[b][key] where both were measured."""
    x, y = lines.get(a, {}).get(key), lines.get(b, {}).get(key)
    return round(x / y, 3) if x and y else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--emulator", type=Path, required=True)
    ap.add_argument("--tng", type=Path, default=None)
    ap.add_argument("--truth", type=str, default=None, help="comma-separated parameter values")
    ap.add_argument("--rel-err", type=float, default=0.05)
    ap.add_argument("--floor", type=float, default=1e-3)
    ap.add_argument("--cases", type=str, default="7,2")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--target-accept", type=float, default=IA_TARGET_ACCEPT, help="every NUTS leg's")
    ap.add_argument("--walkers", type=int, default=32)
    ap.add_argument("--emcee-steps", type=int, default=5000)
    ap.add_argument("--pyro-chains", type=int, default=2)
    ap.add_argument("--pyro-warmup", type=int, default=200)
    ap.add_argument("--pyro-samples", type=int, default=300)
    ap.add_argument("--samplers", type=str, default="numpyro-nuts,emcee,pyro-nuts")
    ap.add_argument("--grad-repeats", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    if "pyro-nuts" in args.samplers.split(",") and importlib.util.find_spec("pyro") is None:
        raise SystemExit("bench_fit.py: the pyro-nuts leg needs pyro-ppl (pip install -e '.[bench]')")
    emu = load_jax_emulator(args.emulator)
    centre = 0.5 * (emu.prior_lo + emu.prior_hi)
    truth = np.array([float(x) for x in args.truth.split(",")]) if args.truth else centre
    obs = (
        read_observation(args.tng)
        if args.tng
        else synthetic_observation(emu, truth, args.rel_err, args.floor, args.seed)
    )
    for case in args.cases.split(","):
        free = emu.param_names if case == "7" else ("mu_cen", "mu_sat")
        fix = {n: float(truth[i]) for i, n in enumerate(emu.param_names) if n not in free}
        like = build_likelihood(emu, obs, fix=fix)
        label = f"{len(like.space.free)}-param"
        grad_line = {"bench": "gradient", "case": label, "batch": 1,
                     **time_gradient(args.emulator, like, args.grad_repeats)}
        print(json.dumps(grad_line), flush=True)
        lines = {}
        samplers = args.samplers.split(",")
        for name, dense in (("numpyro-nuts", False), ("numpyro-nuts-dense", True)):
            if name not in samplers:
                continue
            nuts = FitSettings(
                fix=fix, chains=args.chains, warmup=args.warmup, samples=args.samples, seed=args.seed,
                emulator_covariance="varying",  # the likelihood of the Pyro leg
                dense_mass=dense,  # diagonal as Pyro's NUTS adapts; dense as `iaemu fit` does
                rhat_target=None,  # a fixed budget: ESS per second and per gradient of the same draws
                target_accept=args.target_accept,
            )
            lines[name] = measure(label, name, sample_posterior(like, nuts, quiet=True), like)
        if "emcee" in samplers:
            steps = args.emcee_steps
            emcee = FitSettings(
                fix=fix,
                sampler="emcee",
                walkers=max(args.walkers, 2 * len(like.space.free)),
                warmup=steps // 4,
                samples=steps - steps // 4,
                seed=args.seed,
                emulator_covariance="varying",
            )
            lines["emcee"] = measure(label, "emcee", sample_posterior(like, emcee, quiet=True), like)
        if "pyro-nuts" in samplers:
            result = run_pyro(
                args.emulator, like, args.pyro_chains, args.pyro_warmup, args.pyro_samples,
                args.target_accept, args.seed,
            )
            lines["pyro-nuts"] = measure(label, "pyro-nuts", result, like)

        print(
            json.dumps(
                {
                    "bench": "fit",
                    "case": label,
                    "numpyro_over_pyro_ess_per_s": ratio(lines, "numpyro-nuts", "pyro-nuts", "ess_per_s"),
                    "numpyro_over_pyro_ess_per_gradient": ratio(
                        lines, "numpyro-nuts", "pyro-nuts", "ess_per_gradient"
                    ),
                    "nuts_over_emcee_ess_per_s": ratio(lines, "numpyro-nuts", "emcee", "ess_per_s"),
                    "dense_nuts_over_emcee_ess_per_s": ratio(
                        lines, "numpyro-nuts-dense", "emcee", "ess_per_s"
                    ),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()

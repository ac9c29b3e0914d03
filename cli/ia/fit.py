"""`iaemu fit` and `iaemu validate`: HMC posteriors from the emulator."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.common import QuietOption, SeedOption, checked_output, in_range, named_values, user_errors
from common.errors import InputError, check_choice
from common.outputs import holds
from inference.ia.settings import IANutsSettings

IA_NUTS = IANutsSettings()  # the defaults of the NUTS options below

ChainsOption = Annotated[int, typer.Option("--chains", min=1, help="NUTS chains.")]
ChainMethodOption = Annotated[
    str,
    typer.Option(
        "--chain-method",
        help="NUTS chains one after the other (sequential: cheaper on a CPU) or side by side (vectorized).",
    ),
]
EmulatorCovarianceOption = Annotated[
    str,
    typer.Option(
        "--emulator-covariance",
        help="fixed: the emulator covariance is held at the posterior mode; varying: it follows the "
        "parameters, log-determinant included.",
    ),
]
WarmupOption = Annotated[
    int, typer.Option("--warmup", min=1, help="Warm-up iterations per chain (emcee: burn-in steps).")
]
SamplesOption = Annotated[
    int, typer.Option("--samples", min=1, help="Kept draws per chain (emcee: steps per walker).")
]
RhatTargetOption = Annotated[
    float,
    typer.Option(
        "--rhat-target",
        help="NUTS goes on in steps of samples/2 draws until every R-hat is below this (0: exactly "
        "--samples draws).",
    ),
]
MaxSamplesOption = Annotated[
    int,
    typer.Option("--max-samples", min=0,
                 help="Most draws per chain when going on for R-hat (0: 4 x --samples)."),
]
DenseMassOption = Annotated[
    bool,
    typer.Option(
        "--dense-mass/--diagonal-mass",
        help="NUTS adapts a dense mass matrix (the HOD parameters are correlated) or a diagonal one.",
    ),
]
TargetAcceptOption = Annotated[float, typer.Option(
    "--target-accept", callback=in_range(0, 1, open_lo=True, open_hi=True), help="NUTS target acceptance.")]
StatsOption = Annotated[
    str | None,
    typer.Option("--stats", help="Statistics to fit, e.g. xi,omega,eta (default: all in the observation)."),
]
VarianceOption = Annotated[
    str,
    typer.Option(
        "--emulator-variance",
        help="Emulator variance added to the covariance: none | aleatoric | epistemic | both.",
    ),
]


def _stats(text: str | None) -> tuple[str, ...] | None:
    """The --stats list, checked (a subset of xi, omega, eta) before any file is read."""
    from inference.ia.observations import check_stats

    if text is None:
        return None
    stats = tuple(s.strip() for s in text.split(",") if s.strip())
    check_stats(stats)
    return stats


def _named_numbers(items: list[str] | None, option: str, count: int, expected: str) -> dict[str, list[float]]:
    """Parse repeated NAME=V1,V2,... options holding exactly ``count`` numbers each."""
    out = {}
    for name, text in named_values(items, option, expected).items():
        try:
            values = [float(x) for x in text.split(",")]
        except ValueError:
            values = []
        if len(values) != count:
            raise InputError(f"{option}: '{name}={text}': expected {expected}")
        out[name] = values
    return out


def _check_shared_choices(chain_method: str, emulator_variance: str, emulator_covariance: str) -> None:
    """The choices `fit` and `validate` share, checked before any file is read (the messages name flags)."""
    from inference.ia.likelihood import EmulatorCovariance, EmulatorVariance
    from inference.sampling.settings import ChainMethod

    check_choice(chain_method, ChainMethod, "--chain-method")
    check_choice(emulator_variance, EmulatorVariance, "--emulator-variance")
    check_choice(emulator_covariance, EmulatorCovariance, "--emulator-covariance")


def _nuts_budget(chains: int, chain_method: str, warmup: int, samples: int, rhat_target: float,
                 max_samples: int, dense_mass: bool, target_accept: float) -> dict:
    """The NUTS options as the fields of :class:`IANutsSettings` (0 means "none" for the R-hat options)."""
    return {"chains": chains, "chain_method": chain_method, "warmup": warmup, "samples": samples,
            "rhat_target": rhat_target or None, "max_samples": max_samples or None, "dense_mass": dense_mass,
            "target_accept": target_accept}


@user_errors
@checked_output("out", "dir", inputs=("tng", "emulator"), own=holds("summary.json"), what="fit directory")
def fit(
    tng: Annotated[
        Path,
        typer.Option(
            "--tng",
            help="Observation file (HDF5, docs/ARCHITECTURE.md 3.3), e.g. an IllustrisTNG measurement.",
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Fit directory: posterior.nc, summary.json, corner.png, ppc.png.")
    ] = Path("fit"),
    emulator: Annotated[
        Path | None,
        typer.Option("--emulator", help="Emulator artifact directory (default: the one that ships)."),
    ] = None,
    stats: StatsOption = None,
    fix: Annotated[
        list[str] | None, typer.Option("--fix", help="Fix a parameter: NAME=VALUE (repeatable).")
    ] = None,
    prior: Annotated[
        list[str] | None,
        typer.Option(
            "--prior", help="Narrow a uniform prior: NAME=LO,HI (repeatable; inside the emulator's box)."
        ),
    ] = None,
    sampler: Annotated[str, typer.Option("--sampler", help="nuts | emcee.")] = "nuts",
    chains: ChainsOption = IA_NUTS.chains,
    chain_method: ChainMethodOption = IA_NUTS.chain_method,
    walkers: Annotated[
        int, typer.Option("--walkers", min=2, help="emcee walkers (even, >= 2 x free parameters).")
    ] = 32,
    warmup: WarmupOption = IA_NUTS.warmup,
    samples: SamplesOption = IA_NUTS.samples,
    rhat_target: RhatTargetOption = IA_NUTS.rhat_target,
    max_samples: MaxSamplesOption = 0,
    dense_mass: DenseMassOption = IA_NUTS.dense_mass,
    target_accept: TargetAcceptOption = IA_NUTS.target_accept,
    start: Annotated[
        str,
        typer.Option("--start", help="mode: start chains at a multi-start mode search's best point; prior."),
    ] = "mode",
    xi_space: Annotated[str, typer.Option("--xi-space", help="Fit ξ in linear or log space.")] = "linear",
    emulator_variance: VarianceOption = "epistemic",
    emulator_covariance: EmulatorCovarianceOption = "fixed",
    interpolate: Annotated[
        bool,
        typer.Option(
            "--interpolate",
            help="Interpolate the emulator onto the observation's radii when the bins differ and are not "
            "unions of the emulator's (those are rebinned exactly, with no flag).",
        ),
    ] = False,
    r_range: Annotated[
        tuple[float, float] | None,
        typer.Option("--r-range", help="RMIN RMAX (Mpc/h): fit only the observation's bins inside."),
    ] = None,
    covariance_correction: Annotated[
        str,
        typer.Option(
            "--covariance-correction",
            help="For a jackknife covariance (observation import --jackknife N): hartlap (the inverse "
            "times (N-K-2)/(N-1)), sellentin-heavens (a t-distribution) or none.",
        ),
    ] = "hartlap",
    seed: SeedOption = 0,
    quiet: QuietOption = False,
) -> None:
    """Fit an observation (e.g. an IllustrisTNG measurement, --tng data.h5) with NUTS or emcee."""
    from emulators.ia.default_emulator import default_emulator_path
    from inference.ia.fit import FitSettings, Sampler, Start, fit_observation, report
    from inference.ia.goodness import warning
    from inference.ia.likelihood import CovarianceCorrection, XiSpace
    from inference.sampling.outputs import convergence_warning

    for value, choices, flag in ((sampler, Sampler, "--sampler"), (start, Start, "--start"),
                                 (xi_space, XiSpace, "--xi-space"),
                                 (covariance_correction, CovarianceCorrection, "--covariance-correction")):
        check_choice(value, choices, flag)
    _check_shared_choices(chain_method, emulator_variance, emulator_covariance)

    fixed = {k: v[0] for k, v in _named_numbers(fix, "--fix", 1, "NAME=VALUE").items()}
    bounds = {k: (v[0], v[1]) for k, v in _named_numbers(prior, "--prior", 2, "NAME=LO,HI").items()}
    budget = _nuts_budget(chains, chain_method, warmup, samples, rhat_target, max_samples, dense_mass,
                          target_accept)
    settings = FitSettings(
        **budget,
        stats=_stats(stats),
        xi_space=xi_space,
        emulator_variance=emulator_variance,
        emulator_covariance=emulator_covariance,
        fix=fixed,
        bounds=bounds,
        interpolate=interpolate,
        r_range=r_range,
        covariance_correction=covariance_correction,
        sampler=sampler,
        walkers=walkers,
        start=start,
        seed=seed,
    )
    summary = fit_observation(emulator or default_emulator_path(), tng, out, settings, quiet=quiet)
    print(report(summary))
    print(f"wrote {out}")
    for alarm in (convergence_warning(summary), warning(summary["goodness_of_fit"])):
        if alarm:
            print(alarm, file=sys.stderr)


@user_errors
@checked_output("out", "dir", inputs=("emulator", "held_out"), own=holds("coverage.json"),
                what="validation directory")
def validate(
    emulator: Annotated[Path, typer.Argument(help="Emulator artifact directory.")],
    held_out: Annotated[
        Path,
        typer.Argument(
            help="Held-out mocks (HDF5, docs/ARCHITECTURE.md 3.1), never used in "
            "training (for the training file: its test rows only)."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Directory: coverage.json, injections.csv, plots.")],
    n_injections: Annotated[int, typer.Option("--n-injections", min=1, help="Held-out mocks to fit.")] = 200,
    stats: StatsOption = None,
    emulator_variance: VarianceOption = "both",
    chains: ChainsOption = IA_NUTS.chains,
    warmup: WarmupOption = IA_NUTS.warmup,
    samples: SamplesOption = IA_NUTS.samples,
    rhat_target: RhatTargetOption = IA_NUTS.rhat_target,
    max_samples: MaxSamplesOption = 0,
    dense_mass: DenseMassOption = IA_NUTS.dense_mass,
    target_accept: TargetAcceptOption = IA_NUTS.target_accept,
    batch: Annotated[int, typer.Option(
        "--batch", min=1,
        help="Injections sampled together; a batch goes on until all of them reach --rhat-target."
    )] = 1,
    chain_method: ChainMethodOption = IA_NUTS.chain_method,
    emulator_covariance: EmulatorCovarianceOption = "fixed",
    retry_target_accept: Annotated[float, typer.Option(
        "--retry-target-accept", callback=in_range(0, 1, open_hi=True),
        help="An injection left with R-hat >= --rhat-target or > 1% divergent draws is fitted again with "
        "this target acceptance, twice the warm-up and twice --max-samples; 0: never.",
    )] = 0.99,
    max_retries: Annotated[int, typer.Option(
        "--max-retries", min=0,
        help="Most refits of an injection; each doubles the warm-up and the most draws of the one before.",
    )] = 2,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Processes sharing the injections.")] = 1,
    seed: SeedOption = 0,
    quiet: QuietOption = False,
) -> None:
    """Injection/recovery on held-out mocks: rank-based coverage per parameter."""
    from inference.ia.validation.report import format_report
    from inference.ia.validation.run import validate_artifact
    from inference.ia.validation.settings import ValidationSettings

    _check_shared_choices(chain_method, emulator_variance, emulator_covariance)

    budget = _nuts_budget(chains, chain_method, warmup, samples, rhat_target, max_samples, dense_mass,
                          target_accept)
    settings = ValidationSettings(
        **budget,
        n_injections=n_injections,
        stats=_stats(stats),
        emulator_variance=emulator_variance,
        batch=max(1, batch),
        emulator_covariance=emulator_covariance,
        retry_target_accept=retry_target_accept or None,
        max_retries=max_retries,
        seed=seed,
    )
    report = validate_artifact(emulator, held_out, out, settings, workers=workers, quiet=quiet)
    print(format_report(report))
    print(f"wrote {out}")

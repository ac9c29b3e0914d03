# The intrinsic-alignment chain. Parameters: config["ia"].
IA = config["ia"]
IA_OUT = f"{OUT}/ia"
# Independent mocks on which the trained emulator's error is measured (`iaemu train --error-mocks`), when the
# config asks for them with n_points: {error: N}.
ERROR_MOCKS = [f"{IA_OUT}/mocks_error.h5"] if "error" in IA["n_points"] else []
# With scale_injections: N > 0, N fits of those mocks measure the calibration of the fit, κ and a variance
# per parameter (`iaemu calibrate-scale`); the trained emulator then waits in emulator_unscaled/ and emulator/
# is the calibrated copy. A list [N1, N2, ...] fits the trained emulator in batches (batch k: Nk fits, seed
# scale_seed + k - 1), and the calibration is measured on all of them.
SCALE_STEPS = IA.get("scale_injections", 0)
SCALE_STEPS = [n for n in (SCALE_STEPS if isinstance(SCALE_STEPS, list) else [SCALE_STEPS]) if n > 0]
SCALED = bool(SCALE_STEPS)
if SCALED and not ERROR_MOCKS:
    raise ValueError("config ia.scale_injections needs error mocks: ia.n_points.error")
EMULATOR = f"{IA_OUT}/emulator"
TRAINED = f"{IA_OUT}/emulator_unscaled" if SCALED else EMULATOR
# the folders of the calibration batches: scale_validation/, scale_validation2/, ...
SCALE_VALIDATIONS = [f"{IA_OUT}/scale_validation{'' if k == 1 else k}" for k in range(1, len(SCALE_STEPS) + 1)]

# The IA chain is the longer one (mocks -> emulator -> validation -> fit): when jobs of both chains wait for
# cores, its jobs go first and the HEP chain's fill the cores it leaves free.
IA_PRIORITY = 1


rule ia_all:
    input:
        f"{IA_OUT}/report/metrics.json",
        f"{IA_OUT}/validation/coverage.json",
        f"{IA_OUT}/fit/summary.json",


rule halos:
    output:
        f"{IA_OUT}/halos.h5",
    log:
        f"{OUT}/logs/halos.log",
    params:
        preset=IA["halo_preset"],
        seed=IA.get("halo_seed", SEED),
        device=config["device"],
    threads: 2
    resources:
        mem_mb=IA.get("halos_mem_mb", 8000),
        runtime=60,
    priority: IA_PRIORITY
    conda:
        "../envs/iaemu.yaml"
    shell:
        "iaemu halos build --preset {params.preset} --out {output} --seed {params.seed} "
        "--device {params.device} --quiet > {log} 2>&1"


rule mocks:
    input:
        f"{IA_OUT}/halos.h5",
    output:
        f"{IA_OUT}/mocks_{{split}}.h5",
    log:
        f"{OUT}/logs/mocks_{{split}}.log",
    wildcard_constraints:
        split="train|test|error",
    params:
        n_points=lambda w: IA["n_points"][w.split],
        realisations=IA["realisations"],
        seed=lambda w: {"train": SEED, "test": SEED + 1, "error": SEED + 2, **IA.get("mock_seeds", {})}[
            w.split
        ],
        config=f"--config {IA['mock_config']}" if IA.get("mock_config") else "",
    threads: IA.get("mock_workers", 2)
    resources:
        mem_mb=4000,
        runtime=240,
    priority: IA_PRIORITY
    conda:
        "../envs/iaemu.yaml"
    shell:
        "iaemu simulate --halos {input} --n-points {params.n_points} --realisations {params.realisations} "
        "--out {output} --workers {threads} --seed {params.seed} {params.config} --quiet > {log} 2>&1"


rule train_emulator:
    input:
        train=f"{IA_OUT}/mocks_train.h5",
        error=ERROR_MOCKS,
    output:
        directory(TRAINED),
    log:
        f"{OUT}/logs/train_emulator.log",
    params:
        ensemble=IA["ensemble"],
        epochs=IA["epochs"],
        device=config["device"],
        seed=IA.get("train_seed", SEED),
        error=lambda w, input: f"--error-mocks {input.error}" if input.error else "",
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=int(config["device"] == "cuda"),
    priority: IA_PRIORITY
    conda:
        "../envs/iaemu.yaml"
    shell:
        "iaemu train {input.train} --out {output} --ensemble {params.ensemble} --epochs {params.epochs} "
        "--device {params.device} --seed {params.seed} {params.error} --quiet > {log} 2>&1"


rule evaluate_emulator:
    input:
        emulator=EMULATOR,
        test=f"{IA_OUT}/mocks_test.h5",
    output:
        f"{IA_OUT}/report/metrics.json",
    log:
        f"{OUT}/logs/evaluate_emulator.log",
    conda:
        "../envs/iaemu.yaml"
    shell:
        "iaemu evaluate {input.emulator} {input.test} --out $(dirname {output}) > {log} 2>&1"


rule validate_emulator:
    input:
        emulator=EMULATOR,
        mocks=f"{IA_OUT}/mocks_test.h5",
    output:
        f"{IA_OUT}/validation/coverage.json",
    log:
        f"{OUT}/logs/validate_emulator.log",
    threads: IA.get("validation_workers", 1)
    priority: IA_PRIORITY
    conda:
        "../envs/iaemu.yaml"
    shell:
        validate_command(IA["n_injections"], SEED)


for k, (n_fits, folder) in enumerate(zip(SCALE_STEPS, SCALE_VALIDATIONS, strict=True), start=1):

    rule:
        """A batch of fits of the error mocks (never trained on, not the held-out file) with the trained
        emulator."""
        name:
            f"scale_validation{'' if k == 1 else k}"
        input:
            emulator=TRAINED,
            mocks=ERROR_MOCKS,
        output:
            f"{folder}/coverage.json",
        log:
            f"{OUT}/logs/scale_validation{'' if k == 1 else k}.log",
        threads: IA.get("validation_workers", 1)
        conda:
            "../envs/iaemu.yaml"
        shell:
            validate_command(n_fits, IA.get("scale_seed", SEED) + k - 1)


if SCALED:

    rule calibrate_scale:
        input:
            emulator=TRAINED,
            validations=[f"{folder}/coverage.json" for folder in SCALE_VALIDATIONS],
        output:
            directory(EMULATOR),
        log:
            f"{OUT}/logs/calibrate_scale.log",
        params:
            folders=" ".join(SCALE_VALIDATIONS),
        conda:
            "../envs/iaemu.yaml"
        shell:
            "cp -r {input.emulator} {output} && iaemu calibrate-scale {output} {params.folders} > {log} 2>&1"


rule observation_from_mock:
    input:
        mocks=f"{IA_OUT}/mocks_test.h5",
        emulator=EMULATOR,
    output:
        f"{IA_OUT}/observation.h5",
    log:
        f"{OUT}/logs/observation.log",
    params:
        row=f"--row {IA['observation_row']}" if IA.get("observation_row") is not None else "",
        noise=lambda wildcards, input: (
            f"--noise-model {input.emulator}" if IA.get("observation_noise_model", True) else ""
        ),
    conda:
        "../envs/iaemu.yaml"
    shell:
        "iaemu observation from-mock {input.mocks} {params.row} {params.noise} --out {output} > {log} 2>&1"


rule fit_observation:
    input:
        emulator=EMULATOR,
        observation=f"{IA_OUT}/observation.h5",
    output:
        f"{IA_OUT}/fit/summary.json",
    log:
        f"{OUT}/logs/fit_observation.log",
    params:
        chains=IA["chains"],
        warmup=IA["warmup"],
        samples=IA["samples"],
        rhat_target=IA.get("rhat_target", 1.01),
        seed=SEED,
    threads: 1
    priority: IA_PRIORITY
    conda:
        "../envs/iaemu.yaml"
    shell:
        "iaemu fit --tng {input.observation} --emulator {input.emulator} --out $(dirname {output}) "
        "--chains {params.chains} --warmup {params.warmup} --samples {params.samples} "
        "--rhat-target {params.rhat_target} --seed {params.seed} --quiet > {log} 2>&1"


rule default_emulator:
    """Make this run's emulator the one that ships in the package (use with config/default.yaml)."""
    input:
        emulator=EMULATOR,
        metrics=f"{IA_OUT}/report/metrics.json",
    output:
        touch(f"{IA_OUT}/default_emulator.installed"),
    log:
        f"{OUT}/logs/default_emulator.log",
    conda:
        "../envs/iaemu.yaml"
    shell:
        "iaemu default-emulator install {input.emulator} {input.metrics} > {log} 2>&1"

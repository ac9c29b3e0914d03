# The top-tagging chain. Parameters: config["hep"].
HEP = config["hep"]
HEP_OUT = f"{OUT}/hep"
# Independent jet samples: training, validation, test (tagger metrics), templates (fit inputs), and the pools
# from which the mixed "data" samples are drawn. Each (process, split) has its own seed.
SPLIT_SEED = {"train": 10, "val": 20, "test": 30, "template": 40, "pool": 50}
PROCESS_SEED = {"top": 0, "qcd": 5}


# The tagger the fits use (HEP["model"]) and, where HEP["baseline"] names one, a second tagger trained and
# evaluated on the same jets beside it (e.g. the PFN beside LorentzNet).
BASELINE = HEP.get("baseline")


rule hep_all:
    input:
        f"{HEP_OUT}/report/metrics.json",
        [f"{HEP_OUT}/baseline_report/metrics.json"] if BASELINE else [],
        expand(f"{HEP_OUT}/fit_f{{fraction}}/summary.json", fraction=HEP["fractions"]),


rule generate_jets:
    output:
        f"{HEP_OUT}/{{process}}_{{split}}.root",
    log:
        f"{OUT}/logs/generate_{{process}}_{{split}}.log",
    wildcard_constraints:
        process="top|qcd",
        split="train|val|test|template|pool",
    params:
        n=lambda w: HEP["n_jets"][w.split],
        seed=lambda w: SEED + 100 * SPLIT_SEED[w.split] + PROCESS_SEED[w.process],
    threads: HEP.get("generate_workers", 2)
    resources:
        mem_mb=2000,
        runtime=240,
    conda:
        "../envs/iaemu.yaml"
    shell:
        "toptag generate --process {wildcards.process} --n {params.n} --out {output} "
        "--workers {threads} --seed {params.seed} --quiet > {log} 2>&1"


rule train_tagger:
    input:
        train=[f"{HEP_OUT}/top_train.root", f"{HEP_OUT}/qcd_train.root"],
        val=[f"{HEP_OUT}/top_val.root", f"{HEP_OUT}/qcd_val.root"],
    output:
        directory(f"{HEP_OUT}/tagger"),
    log:
        f"{OUT}/logs/train_tagger.log",
    params:
        model=HEP["model"],
        # each validation file gets its own --val (a second file after one --val would join the training)
        val=lambda w, input: " ".join(f"--val {path}" for path in input.val),
        settings=tagger_settings(HEP),
        epochs=HEP["epochs"],
        device=config["device"],
        seed=SEED,
    threads: HEP.get("train_threads", 2)
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=int(config["device"] == "cuda"),
    conda:
        "../envs/iaemu.yaml"
    shell:
        "toptag train {input.train} {params.val} --model {params.model} {params.settings} --out {output} "
        "--epochs {params.epochs} --device {params.device} --seed {params.seed} --quiet > {log} 2>&1"


use rule train_tagger as train_baseline with:
    output:
        directory(f"{HEP_OUT}/baseline"),
    log:
        f"{OUT}/logs/train_baseline.log",
    params:
        model=(BASELINE or {}).get("model"),
        val=lambda w, input: " ".join(f"--val {path}" for path in input.val),
        settings=tagger_settings(BASELINE or {}),
        epochs=(BASELINE or {}).get("epochs", HEP["epochs"]),
        device=config["device"],
        seed=SEED,


rule evaluate_tagger:
    input:
        tagger=f"{HEP_OUT}/tagger",
        test=[f"{HEP_OUT}/top_test.root", f"{HEP_OUT}/qcd_test.root"],
    output:
        f"{HEP_OUT}/report/metrics.json",
    log:
        f"{OUT}/logs/evaluate_tagger.log",
    conda:
        "../envs/iaemu.yaml"
    shell:
        "toptag evaluate {input.tagger} {input.test} --out $(dirname {output}) > {log} 2>&1"


use rule evaluate_tagger as evaluate_baseline with:
    input:
        tagger=f"{HEP_OUT}/baseline",
        test=[f"{HEP_OUT}/top_test.root", f"{HEP_OUT}/qcd_test.root"],
    output:
        f"{HEP_OUT}/baseline_report/metrics.json",
    log:
        f"{OUT}/logs/evaluate_baseline.log",


rule mix_sample:
    input:
        signal=f"{HEP_OUT}/top_pool.root",
        background=f"{HEP_OUT}/qcd_pool.root",
    output:
        f"{HEP_OUT}/mixed_f{{fraction}}.root",
    log:
        f"{OUT}/logs/mix_f{{fraction}}.log",
    params:
        n=HEP["n_mixed"],
        seed=SEED,
    conda:
        "../envs/iaemu.yaml"
    shell:
        "toptag mix --signal {input.signal} --background {input.background} --fraction {wildcards.fraction} "
        "--n {params.n} --out {output} --seed {params.seed} > {log} 2>&1"


rule fit_fraction:
    input:
        tagger=f"{HEP_OUT}/tagger",
        data=f"{HEP_OUT}/mixed_f{{fraction}}.root",
        signal=f"{HEP_OUT}/top_template.root",
        background=f"{HEP_OUT}/qcd_template.root",
    output:
        f"{HEP_OUT}/fit_f{{fraction}}/summary.json",
    log:
        f"{OUT}/logs/fit_f{{fraction}}.log",
    params:
        bins=HEP["bins"],
        seed=SEED,
    conda:
        "../envs/iaemu.yaml"
    shell:
        "toptag fit {input.tagger} --data {input.data} --signal {input.signal} "
        "--background {input.background} --out $(dirname {output}) --bins {params.bins} "
        "--seed {params.seed} --quiet > {log} 2>&1"

# Helpers of the rule files.


def validate_command(n_injections: int, seed: int) -> str:
    """The `iaemu validate` line of a validation rule (inputs emulator and mocks, output coverage.json), with
    the per-injection budget config["ia"]["validation_budget"] (else the fit settings of config["ia"])."""
    budget = config["ia"].get("validation_budget", config["ia"])
    return (
        f"iaemu validate {{input.emulator}} {{input.mocks}} --n-injections {n_injections} "
        f"--chains {budget['chains']} --warmup {budget['warmup']} --samples {budget['samples']} "
        f"--rhat-target {budget.get('rhat_target', 1.01)} --max-samples {budget.get('max_samples', 0)} "
        f"--max-retries {budget.get('max_retries', 2)} "
        f"--workers {{threads}} --out $(dirname {{output}}) --seed {seed} --quiet > {{log}} 2>&1"
    )


def tagger_settings(tagger):
    """The `toptag train` options of a tagger entry of config["hep"]: --config KEY=VALUE per model setting,
    then --max-constituents."""
    items = [f"--config {key}={value}" for key, value in tagger.get("model_config", {}).items()]
    return " ".join([*items, f"--max-constituents {tagger.get('max_constituents', 200)}"])

"""Your own posterior sampling in a few lines: load an emulator, build a likelihood, run NUTS, write outputs.

    python examples/own_hmc.py EMULATOR_DIR OBSERVATION.h5 OUT_DIR
"""

import sys

import numpy as np

from inference.ia.emulator_jax import load_jax_emulator
from inference.ia.fit import FitSettings, sample_posterior, write_fit
from inference.ia.likelihood import build_likelihood
from inference.ia.observations import read_observation

emulator_dir, observation_file, out = sys.argv[1:4]
emulator = load_jax_emulator(emulator_dir)
observation = read_observation(observation_file)
# IAEmu's TNG fit: only the alignment strengths free, the HOD fixed.
fixed_hod = {"logMmin": 12.5, "sigma_logM": 0.4, "logM0": 12.5, "logM1": 13.5, "alpha": 1.0}
likelihood = build_likelihood(emulator, observation, stats=("omega", "eta"), fix=fixed_hod)
settings = FitSettings(chains=2, warmup=300, samples=500, seed=0)
result = sample_posterior(likelihood, settings, quiet=True)
for name, draws in result.samples.items():
    print(f"{name}: {np.mean(draws):.3f} ± {np.std(draws):.3f}")
write_fit(likelihood, result, out, settings)  # posterior.nc, summary.json, corner.png, ppc.png

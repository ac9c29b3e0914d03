#!/usr/bin/env bash
# The covariance scale κ of the shipped emulator (issue #5, README "Calibrating the IA fit"): 32 injections
# on the independent error mocks (never trained on, not the held-out file), fitted like the 200-injection
# run, then `iaemu calibrate-scale` writes κ into the artifact. Run on the artifact without κ (the
# validation must be of the artifact as it is). About 30 min on the 2-core development machine.
set -euo pipefail
cd "$(dirname "$0")/.."
make install
.venv/bin/iaemu validate inference/artifacts/default calibration/error_mocks_default.h5 --n-injections 32 \
  --chains 4 --warmup 500 --samples 500 --max-samples 2000 --batch 1 --workers 2 --seed 1 \
  --out calibration/scale32 --quiet "$@"
.venv/bin/iaemu calibrate-scale inference/artifacts/default calibration/scale32

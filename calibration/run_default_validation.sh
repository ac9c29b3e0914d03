#!/usr/bin/env bash
# The 200-injection calibration of the shipped emulator (issue #5, README "Calibrating the IA fit").
# Resumable: finished injections wait in calibration/.val200.checkpoint/ (committed), and the same command
# fits only the ones still missing. About 150 s per injection per core on the 2-core development machine.
set -euo pipefail
cd "$(dirname "$0")/.."
make install
.venv/bin/iaemu validate inference/artifacts/default calibration/held_out_default.h5 --n-injections 200 \
  --chains 4 --warmup 500 --samples 500 --max-samples 2000 --batch 1 --workers 2 --seed 0 \
  --out calibration/val200 --quiet "$@"

#!/usr/bin/env bash
# The calibration runs of the shipped emulator (issue #5, README "Calibrating the IA fit"), fitted alike.
#   run_default_validation.sh scale   32 injections on the independent error mocks (never trained on, not the
#                                     held-out file), then `iaemu calibrate-scale` writes the covariance
#                                     scale κ into the artifact; run it on the artifact without κ
#   run_default_validation.sh         the 200-injection validation on the held-out mocks
# Resumable: finished injections wait in calibration/.NAME.checkpoint/ (committed for the 200-injection run),
# and the same command fits only the ones still missing. About 110 s per injection per core on the 2-core
# development machine.
set -euo pipefail
cd "$(dirname "$0")/.."
make install
mode="${1:-validation}"
if [ "$mode" = scale ]; then
  run=(calibration/error_mocks_default.h5 --n-injections 32 --seed 1 --out calibration/scale32)
else
  run=(calibration/held_out_default.h5 --n-injections 200 --seed 0 --out calibration/val200)
fi
.venv/bin/iaemu validate emulators/ia/artifacts/default "${run[@]}" --chains 4 --warmup 500 --samples 500 \
  --max-samples 2000 --batch 1 --workers 2 --quiet
if [ "$mode" = scale ]; then
  .venv/bin/iaemu calibrate-scale emulators/ia/artifacts/default calibration/scale32
fi

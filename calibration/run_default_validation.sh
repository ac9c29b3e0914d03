#!/usr/bin/env bash
# The calibration runs of the shipped emulator (README "Calibrating the IA fit"), fitted alike.
#   run_default_validation.sh scale   32 injections on the independent error mocks (never trained on, not the
#                                     held-out file), then `iaemu calibrate-scale` writes the covariance
#                                     scale κ into the artifact; run it on the artifact without κ
#   run_default_validation.sh         the 200-injection validation on the held-out mocks
# WORLD (default `default`) picks the files: calibration/held_out_$WORLD.h5 and error_mocks_$WORLD.h5, and the
# outputs calibration/val200 and scale32 (suffixed _$WORLD for any other world), so the `wide` world's
# successor is calibrated beside the shipped record: WORLD=wide calibration/run_default_validation.sh
# Resumable: finished injections wait in calibration/.NAME.checkpoint/ (committed for the 200-injection run),
# and the same command fits only the ones still missing. About 110 s per injection per core on the 2-core
# development machine (the `default` world's emulator).
set -euo pipefail
cd "$(dirname "$0")/.."
make install
world="${WORLD:-default}"
suffix=$([ "$world" = default ] && echo "" || echo "_$world")
mode="${1:-validation}"
if [ "$mode" = scale ]; then
  run=(calibration/error_mocks_$world.h5 --n-injections 32 --seed 1 --out calibration/scale32$suffix)
else
  run=(calibration/held_out_$world.h5 --n-injections 200 --seed 0 --out calibration/val200$suffix)
fi
.venv/bin/iaemu validate emulators/ia/artifacts/default "${run[@]}" --chains 4 --warmup 500 --samples 500 \
  --max-samples 2000 --batch 1 --workers 2 --quiet
if [ "$mode" = scale ]; then
  .venv/bin/iaemu calibrate-scale emulators/ia/artifacts/default calibration/scale32$suffix
fi

#!/usr/bin/env bash
# The calibration runs of the shipped emulator (README "Calibrating the IA fit"), fitted alike.
#   run_default_validation.sh scale     32 fits of the independent error mocks (never trained on, not the
#                                       held-out file), seed 1
#   run_default_validation.sh rescale   64 more fits of them, seed 2
#   run_default_validation.sh calibrate `iaemu calibrate-scale` on the finished ones of those two: κ and a
#                                       variance D per parameter into the artifact
#   run_default_validation.sh           the 200-injection validation on the held-out mocks
# The calibration fits must be made with the artifact before any D (scale and rescale refuse one that has
# one); the 32 were fitted uncalibrated and the 64 with κ = 1.265, which calibrate-scale finds by digest.
# WORLD (default `wide`, the shipped emulator's) picks the files: calibration/held_out_$WORLD.h5 and
# error_mocks_$WORLD.h5, and the outputs calibration/val200, scale32 and scale64 (suffixed _$WORLD for any other world,
# e.g. WORLD=default for the emulator shipped before, whose files stay in calibration/)
# Resumable: finished injections wait in calibration/.NAME.checkpoint/ (committed from session to session),
# and the same command fits only the ones still missing. On the 2-core development machine, a median 223 s
# per injection per core for the `default` world's emulator; a median 264 s (mean 781 s,
# the careful refits included) in the `wide` world's 32-injection κ run.
set -euo pipefail
cd "$(dirname "$0")/.."
world="${WORLD:-wide}"
suffix=$([ "$world" = wide ] && echo "" || echo "_$world")
mode="${1:-validation}"
artifact=emulators/ia/artifacts/default
case "$mode" in
  scale) run=(calibration/error_mocks_$world.h5 --n-injections 32 --seed 1 --out calibration/scale32$suffix) ;;
  rescale) run=(calibration/error_mocks_$world.h5 --n-injections 64 --seed 2 --out calibration/scale64$suffix) ;;
  calibrate) run=() ;;
  validation) run=(calibration/held_out_$world.h5 --n-injections 200 --seed 0 --out calibration/val200$suffix) ;;
  *) echo "run_default_validation.sh: unknown mode '$mode' (expected scale, rescale, calibrate, or none for the validation)" >&2
     exit 2 ;;
esac
make install
if [ "$mode" = calibrate ]; then
  finished=()
  for folder in calibration/scale32$suffix calibration/scale64$suffix; do
    [ -f "$folder/coverage.json" ] && finished+=("$folder")
  done
  .venv/bin/iaemu calibrate-scale "$artifact" "${finished[@]}"
  exit 0
fi
if [ "$mode" != validation ] && .venv/bin/python -c 'import sys; from inference.ia.emulator_jax import load_jax_emulator
sys.exit(load_jax_emulator(sys.argv[1]).parameter_variance is None)' "$artifact"; then
  echo "run_default_validation.sh: $artifact carries a parameter variance D; calibration fits are made without one" >&2
  exit 2
fi
.venv/bin/iaemu validate "$artifact" "${run[@]}" --chains 4 --warmup 500 --samples 500 \
  --max-samples 2000 --batch 1 --workers 2 --quiet

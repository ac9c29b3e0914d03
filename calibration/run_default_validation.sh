#!/usr/bin/env bash
# The calibration runs of the shipped emulator (README "Calibrating the IA fit"), fitted alike.
#   run_default_validation.sh scale   32 injections on the independent error mocks (never trained on, not the
#                                     held-out file), then `iaemu calibrate-scale` writes the covariance
#                                     scale κ into the artifact; run it on the artifact without κ
#   run_default_validation.sh rescale 64 more injections on the error mocks (seed 2), fitted with the κ the
#                                     artifact carries, then `iaemu calibrate-scale` multiplies κ by the
#                                     factor they still need (calibration/README.md says why)
#   run_default_validation.sh         the 200-injection validation on the held-out mocks
# A κ step whose fits are done (its coverage.json exists) is not fitted again: its κ is applied if the
# artifact is still the one it fitted, and otherwise nothing is done.
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
case "$mode" in
  scale) out=calibration/scale32$suffix
         run=(calibration/error_mocks_$world.h5 --n-injections 32 --seed 1 --out $out) ;;
  rescale) out=calibration/scale64$suffix
           run=(calibration/error_mocks_$world.h5 --n-injections 64 --seed 2 --out $out) ;;
  validation) run=(calibration/held_out_$world.h5 --n-injections 200 --seed 0 --out calibration/val200$suffix) ;;
  *) echo "run_default_validation.sh: unknown mode '$mode' (expected scale, rescale, or none for the validation)" >&2; exit 2 ;;
esac
make install
if [ "$mode" != validation ] && [ -f "$out/coverage.json" ]; then  # the fits are done: is their κ applied?
  pending=$(.venv/bin/python -c 'import sys; from inference.ia.emulator_jax import load_jax_emulator
from inference.ia.posterior_calibration import fitted_with, read_validation_u
print(int(fitted_with(read_validation_u(sys.argv[1])[1], load_jax_emulator(sys.argv[2]))))' \
    "$out" emulators/ia/artifacts/default)
  if [ "$pending" = 1 ]; then
    .venv/bin/iaemu calibrate-scale emulators/ia/artifacts/default "$out"
  else
    echo "$out: finished, and the artifact has changed since (its κ is applied); nothing to do"
  fi
  exit 0
fi
.venv/bin/iaemu validate emulators/ia/artifacts/default "${run[@]}" --chains 4 --warmup 500 --samples 500 \
  --max-samples 2000 --batch 1 --workers 2 --quiet
if [ "$mode" != validation ]; then
  .venv/bin/iaemu calibrate-scale emulators/ia/artifacts/default $out
fi

#!/usr/bin/env bash
# The calibration runs of the shipped emulator (README "Calibrating the IA fit"), fitted alike.
#   run_default_validation.sh scale     32 fits of the independent error mocks (never trained on, not the
#                                       held-out file), seed 1
#   run_default_validation.sh rescale   64 more fits of them, seed 2
#   run_default_validation.sh extend    64 more, seed 3, fitted with the artifact's last calibration
#                                       without a D (in a copy of it, calibration/.artifact_without_d/)
#   run_default_validation.sh calibrate `iaemu calibrate-scale` on the three once all have finished: κ and
#                                       a variance D per parameter into the artifact (again only when
#                                       the estimator or the fits have changed since its last one)
#   run_default_validation.sh           the 200-injection validation on the held-out mocks
# The calibration fits must be made with the artifact before any D (scale and rescale refuse one that has
# one); the 32 were fitted uncalibrated and the 64 with κ = 1.265, which calibrate-scale finds by digest.
# WORLD (default `wide`, the shipped emulator's) picks the files: calibration/held_out_$WORLD.h5 and
# error_mocks_$WORLD.h5, and the outputs calibration/val200, scale32 and scale64 (suffixed _$WORLD for any other world,
# e.g. WORLD=default for the emulator shipped before, whose files stay in calibration/)
# Resumable: finished injections wait in calibration/.NAME.checkpoint/ (committed from session to session),
# and the same command fits only the ones still missing; a finished batch is not fitted again, and the
# validation refuses to start on an artifact without κ and D. On the 2-core
# development machine, a median 223 s per injection per core for the `default` world's emulator; a median
# 264 s (mean 781 s, the careful refits included) in the `wide` world's 32-injection κ run.
set -euo pipefail
cd "$(dirname "$0")/.."
world="${WORLD:-wide}"
suffix=$([ "$world" = wide ] && echo "" || echo "_$world")
mode="${1:-validation}"
artifact=emulators/ia/artifacts/default
batches=(calibration/scale32$suffix calibration/scale64$suffix calibration/scale64b$suffix)
case "$mode" in
  scale) out=${batches[0]}; run=(calibration/error_mocks_$world.h5 --n-injections 32 --seed 1 --out "$out") ;;
  rescale) out=${batches[1]}; run=(calibration/error_mocks_$world.h5 --n-injections 64 --seed 2 --out "$out") ;;
  extend) out=${batches[2]}; run=(calibration/error_mocks_$world.h5 --n-injections 64 --seed 3 --out "$out") ;;
  calibrate) ;;
  validation) run=(calibration/held_out_$world.h5 --n-injections 200 --seed 0 --out calibration/val200$suffix) ;;
  *) echo "run_default_validation.sh: unknown mode '$mode' (expected scale, rescale, extend, calibrate, or none for the validation)" >&2
     exit 2 ;;
esac
make install
# status 3: the artifact carries a D; 4: it does not; anything else: the check itself failed
status=0
.venv/bin/python -c 'import sys; from inference.ia.emulator_jax import load_jax_emulator
sys.exit(3 if load_jax_emulator(sys.argv[1]).parameter_variance is not None else 4)' "$artifact" || status=$?
if [ "$status" != 3 ] && [ "$status" != 4 ]; then
  echo "run_default_validation.sh: could not read $artifact" >&2; exit 2
fi
if [ "$mode" = calibrate ]; then
  for folder in "${batches[@]}"; do
    if [ ! -f "$folder/coverage.json" ]; then
      echo "run_default_validation.sh: $folder has not finished; run scale, rescale and extend first" >&2; exit 2
    fi
  done
  if .venv/bin/python -c 'import json, sys
from inference.ia.posterior_calibration import ESTIMATOR
scale = json.load(open(sys.argv[1] + "/emulator.json"))["emulator_error"].get("covariance_scale") or {}
counts = [json.load(open(f + "/coverage.json"))["run"]["n_injections"] for f in sys.argv[2:]]
sys.exit(0 if scale.get("estimator") == ESTIMATOR and scale.get("injections") == counts else 1)' \
      "$artifact" "${batches[@]}"; then
    echo "$artifact already carries κ and D measured on these fits by this estimator; nothing to do"; exit 0
  fi
  .venv/bin/iaemu calibrate-scale "$artifact" "${batches[@]}"
  exit 0
fi
if [ "$mode" = validation ]; then
  if [ "$status" = 4 ]; then
    echo "run_default_validation.sh: $artifact is not calibrated with κ and D; run scale, rescale and calibrate first" >&2
    exit 2
  fi
elif [ -f "$out/coverage.json" ]; then
  echo "$out has finished; run calibrate when every batch has"; exit 0
elif [ "$mode" = extend ]; then
  # the artifact as it was before its first D: calibrate-scale finds that state by digest in its history
  copy=calibration/.artifact_without_d
  rm -rf "$copy" && cp -r "$artifact" "$copy"
  .venv/bin/python - "$copy" <<'PY'
import json, sys
from pathlib import Path
path = Path(sys.argv[1]) / "emulator.json"
doc = json.loads(path.read_text())
scale = doc["emulator_error"].get("covariance_scale")
while scale and any((scale.get("parameter_variance") or {}).values()):
    scale = scale.get("previous")
doc["emulator_error"].pop("covariance_scale", None)
if scale:
    doc["emulator_error"]["covariance_scale"] = scale
path.write_text(json.dumps(doc, indent=1))
PY
  artifact=$copy
elif [ "$status" = 3 ]; then
  echo "run_default_validation.sh: $artifact carries a parameter variance D; calibration fits are made without one" >&2
  exit 2
fi
.venv/bin/iaemu validate "$artifact" "${run[@]}" --chains 4 --warmup 500 --samples 500 \
  --max-samples 2000 --batch 1 --workers 2 --quiet

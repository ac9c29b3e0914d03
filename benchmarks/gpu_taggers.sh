#!/usr/bin/env bash
# One device run for the taggers on a GPU, prepared to fit a 10-minute command (README, "Taggers on a GPU").
#
#   bash benchmarks/gpu_taggers.sh                      # on the GPU machine, from the repository root
#   PY=.venv/bin/python DEVICE=cpu N=20 BATCH=8 STEPS=2 JETS=200 VAL=50 TEST=100 EPOCHS=1 BUDGET=300 \
#       WORKERS=1 bash benchmarks/gpu_taggers.sh
#                                                       # the same steps on a CPU, tiny (a rehearsal)
#
# 1. Training jets/s of this project's LorentzNet and of the published reference (`.reference/
#    LorentzNet-release/models.py`, carried, never committed) side by side at N constituents under bf16
#    autocast and in float32 (benchmarks/bench_taggers.py --reference). Target: >= 10,000 jets/s at 200.
# 2. If that rate trains JETS jets for EPOCHS epochs within BUDGET seconds, generate JETS top + QCD jets
#    (WORKERS Pythia processes) and train the full-size LorentzNet on them at N constituents, then evaluate
#    it on an independent test sample. Python packages missing on the machine (uproot, awkward, pythia8mc,
#    fastjet, lgatr, typer) are installed from wheels in /.whl when that folder exists.
# Everything lands in $OUT (default gpu_out/): bench.jsonl, decision.txt, train.log, metrics.json.
set -euo pipefail
PY=${PY:-python3}
DEVICE=${DEVICE:-cuda}
N=${N:-200}
BATCH=${BATCH:-128}
STEPS=${STEPS:-20}
JETS=${JETS:-100000}
EPOCHS=${EPOCHS:-10}
BUDGET=${BUDGET:-360}
VAL=${VAL:-2500}     # validation jets per class
TEST=${TEST:-10000}  # test jets per class
WORKERS=${WORKERS:-16}
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [ -d /.whl ]; then
    "$PY" -m pip install -q --no-index --find-links /.whl uproot awkward pythia8mc fastjet lgatr typer 2>&1 | tail -2
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"

"$PY" benchmarks/bench_taggers.py --device "$DEVICE" --constituents "$N" --train-batch "$BATCH" \
    --steps "$STEPS" --repeats 1 --reference .reference/LorentzNet-release | tee "$OUT/bench.jsonl"

# Jets/s of our LorentzNet under autocast, and whether the training fits the budget.
fits=$("$PY" - "$OUT/bench.jsonl" "$JETS" "$EPOCHS" "$BUDGET" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
rate = max(r["jets_per_s"] for r in rows if r.get("model") == "lorentznet")
jets, epochs, budget = map(float, sys.argv[2:])
need = jets * epochs / budget
print(f"{'yes' if rate >= need else 'no'} rate {rate:.0f} jets/s, need {need:.0f} for {jets:.0f} x {epochs:.0f} "
      f"in {budget:.0f} s")
EOF
)
echo "$fits" | tee "$OUT/decision.txt"
[ "${fits%% *}" = yes ] || exit 0

half=$((JETS / 2))
for spec in "top train $half 901" "qcd train $half 902" "top val $VAL 911" "qcd val $VAL 912" \
            "top test $TEST 921" "qcd test $TEST 922"; do
    set -- $spec
    "$PY" -m cli.hep generate --process "$1" --n "$3" --out "$OUT/$1_$2.root" --seed "$4" \
        --workers "$WORKERS" --quiet >> "$OUT/generate.log" 2>&1
done
"$PY" -m cli.hep train "$OUT/top_train.root" "$OUT/qcd_train.root" --val "$OUT/top_val.root" \
    --val "$OUT/qcd_val.root" --model lorentznet --max-constituents "$N" --batch-size "$BATCH" \
    --epochs "$EPOCHS" --device "$DEVICE" --out "$OUT/tagger" --quiet 2>&1 | tee "$OUT/train.log"
"$PY" -m cli.hep evaluate "$OUT/tagger" "$OUT/top_test.root" "$OUT/qcd_test.root" --out "$OUT/report" \
    --device "$DEVICE" --quiet | tail -1
cp "$OUT/report/metrics.json" "$OUT/tagger/tagger.json" "$OUT/"
rm -rf "$OUT"/*.root "$OUT/report" "$OUT/tagger"  # at most 8 files come back

#!/usr/bin/env bash
# Every method on the three SynthSign benchmarks, seeds 0-2, fine-tuned on a quarter of the
# labelled training data (ISLR: 4 clips per gloss, 20 epochs; CSLR and SLT: 150 of 600
# sentences, the smoke preset's 10 and 12 epochs), each
# pre-training method pre-trained once per seed on the SynthSign pose+text corpus and the
# pre-training shared by its three benchmarks (<out>/pretrained/). The ISLR cells are the
# same cells as scripts/sigma_synth_islr.sh (same settings): with the same OUT they
# are not run twice. Cells are idempotent: rerunning skips finished ones.
#   METHODS="scratch sigma" BENCHES=synth-islr SEEDS="0 1" THREADS=1 scripts/methods_synth.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-outputs/sigma-synth-islr}
PY=${PY:-.venv/bin/python}
METHODS=${METHODS:-scratch sigma mslp ccl_slr uni_sign}
BENCHES=${BENCHES:-synth-islr synth-cslr synth-slt}
SEEDS=${SEEDS:-0 1 2}
THREADS=${THREADS:-2}
for seed in $SEEDS; do
  for bench in $BENCHES; do
    if [ "$bench" = synth-islr ]; then
      SET=(data.train_fraction=0.25 finetune.epochs=20 finetune.batch_size=16)
    else
      SET=(data.train_fraction=0.25)
    fi
    for method in $METHODS; do
      $PY -m harness run --method "$method" --bench "$bench" --seed "$seed" --out "$OUT" \
        --threads "$THREADS" --quiet --set "${SET[@]}"
    done
  done
done
$PY -m harness summary --results "$OUT"

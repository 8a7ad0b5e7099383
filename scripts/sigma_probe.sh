#!/usr/bin/env bash
# Does Sigma's pre-training learn sign-discriminative features? A linear probe: the sign
# encoder frozen after pre-training (or at random initialisation) and only the classifier
# trained, on synth-islr with a quarter of the labelled clips, seeds 0-2. Same data, schedule
# and pre-training as scripts/sigma_synth_islr.sh, so the two tables read together.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-outputs/sigma-synth-islr}
PY=${PY:-.venv/bin/python}
SET=(data.train_fraction=0.25 finetune.epochs=20 finetune.batch_size=16
     +finetune.freeze_encoder=true)
for seed in 0 1 2; do
  for pre in "pretrain.epochs=0" "pretrain.epochs=2"; do
    $PY -m harness run --method sigma --bench synth-islr --seed "$seed" --out "$OUT" --quiet \
      --set "${SET[@]}" "$pre"
  done
done
$PY -m harness summary --results "$OUT"

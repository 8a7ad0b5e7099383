#!/usr/bin/env bash
# Sigma against scratch, Sigma without pre-training, and each of Sigma's ablations on
# synth-islr with a quarter of the labelled training clips (4 per gloss), seeds 0-2.
# Cells are idempotent: rerunning skips finished ones. Prints the summary table at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-outputs/sigma-synth-islr}
PY=${PY:-.venv/bin/python}
SET=(data.train_fraction=0.25 finetune.epochs=20 finetune.batch_size=16)
ABLATIONS=(
  ""                                    # full Sigma
  "pretrain.epochs=0"                   # Sigma's encoder, no pre-training
  "model.sigma.fusion.mode=text_only"   # no early fusion (text attends to signs only)
  "model.sigma.weights.hal_local=0.0"   # global alignment only
  "model.sigma.weights.hal_global=0.0"  # local alignment only
  "model.sigma.weights.sgt_match=0.0"   # no sign-text matching
  "model.sigma.weights.sgt_lm=0.0"      # no language modelling
)
for seed in 0 1 2; do
  $PY -m harness run --method scratch --bench synth-islr --seed "$seed" --out "$OUT" --quiet \
    --set "${SET[@]}"
  for ablation in "${ABLATIONS[@]}"; do
    # shellcheck disable=SC2086  # an empty ablation adds no override
    $PY -m harness run --method sigma --bench synth-islr --seed "$seed" --out "$OUT" --quiet \
      --set "${SET[@]}" $ablation
  done
done
$PY -m harness summary --results "$OUT"

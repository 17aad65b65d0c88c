#!/usr/bin/env bash
# Rebuild the bundled default enhancer model (dnaseq_cli/resources/models/enhancer_default) from the
# real Genomic Benchmarks human_enhancers_cohn sequences in ../shared/data (4,948 x 500 bp).
#
#   bash scripts/build_default_model.sh [SHARED_DATA_DIR] [WORK_DIR] [CROSSVAL_ENSEMBLE_JSON]
#
# Split 80/10/10 stratified (seed 0). Two members are trained on the train split with early
# stopping on validation AUROC: a Hybrid CNN Transformer and a k-mer spectrum MLP. `dnaseq ensemble`
# Platt-calibrates each on the validation split and averages them; the test metrics come from the
# 494 held-out sequences. The ensemble folder is copied into the package with its model card
# (CROSSVAL_ENSEMBLE_JSON, from scripts/crossval_ensemble.py, adds the cross-validated estimate).
set -euo pipefail
shared=${1:-../shared/data}
work=${2:-runs/default_model}
crossval=${3:-}
here=$(cd "$(dirname "$0")/.." && pwd)
target="$here/dnaseq_cli/resources/models/enhancer_default"
mkdir -p "$work"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

# 1. A named, labelled table from the shared TSV (columns: seq, label), and the 80/10/10 split.
python "$here/scripts/cohn_table.py" "$shared/gb_cohn_test_sequences/cohn_dev.tsv.gz" "$work/cohn_dev.tsv"
dnaseq preprocess "$work/cohn_dev.tsv" -o "$work/dataset" --seed 0 --force --quiet

# 2. The members.
dnaseq train "$work/dataset" -o "$work/hybrid" --force --quiet --seed 0 \
  --backbone hybrid --size tiny \
  --model-config '{"d_model": 32, "n_layers": 1, "kmer_sizes": [1, 2, 3, 4, 5, 6], "stem_kernels": [9], "pool_sizes": [10, 5]}' \
  --ema 0.995 --epochs 20 --patience 5
dnaseq train "$work/dataset" -o "$work/kmer" --force --quiet --seed 0 \
  --backbone kmer --size base --epochs 30 --patience 5

# 3. The calibrated ensemble, its held-out metrics, and the copy into the package.
ensemble_command="dnaseq ensemble $work/hybrid $work/kmer -o $work/ensemble --calibrate $work/dataset --force"
$ensemble_command
python "$here/scripts/split_metrics.py" "$work/ensemble" "$work/dataset" --split test -o "$work/ensemble_test.json"
rm -rf "$target" && mkdir -p "$(dirname "$target")"
cp -r "$work/ensemble" "$target"
python "$here/scripts/write_model_card.py" "$work/ensemble" "$work/ensemble_test.json" \
  "$target/MODEL_CARD.md" --runs "$work/hybrid" "$work/kmer" \
  --ensemble-command "$ensemble_command" ${crossval:+--crossval "$crossval"} \
  --zoo-json "$target/zoo.json"
echo "bundled model written to $target"

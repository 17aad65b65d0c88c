#!/usr/bin/env bash
# Rebuild the bundled default enhancer model (dnaseq_cli/resources/models/enhancer_default) from the
# real Genomic Benchmarks human_enhancers_cohn sequences in ../shared/data (4,948 x 500 bp).
#
#   bash scripts/build_default_model.sh [SHARED_DATA_DIR] [WORK_DIR]
#
# Split 80/10/10 stratified (seed 0): train, model selection on validation (AUROC), test metrics on
# the 494 held-out sequences; the best checkpoint is copied into the package with its model card.
set -euo pipefail
shared=${1:-../shared/data}
work=${2:-runs/default_model}
here=$(cd "$(dirname "$0")/.." && pwd)
target="$here/dnaseq_cli/resources/models/enhancer_default"
mkdir -p "$work"

# 1. A named, labelled table from the shared TSV (columns: seq, label).
python "$(dirname "$0")/cohn_table.py" "$shared/gb_cohn_test_sequences/cohn_dev.tsv.gz" "$work/cohn_dev.tsv"

# 2. Dataset folder with the 80/10/10 split, then training.
dnaseq preprocess "$work/cohn_dev.tsv" -o "$work/dataset" --seed 0 --force --quiet
OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} dnaseq train "$work/dataset" -o "$work/run" --force --quiet \
  --backbone hybrid --size tiny \
  --model-config '{"d_model": 32, "n_layers": 1, "kmer_sizes": [1, 2, 3, 4, 5, 6], "stem_kernels": [9], "pool_sizes": [10, 5]}' \
  --epochs 20 --patience 5 --seed 0

# 3. Copy the checkpoint into the package and write its model card.
rm -rf "$target" && mkdir -p "$target"
cp "$work/run/checkpoint/config.json" "$work/run/checkpoint/model.safetensors" "$target/"
python "$here/scripts/write_model_card.py" "$work/run" "$target/MODEL_CARD.md"
echo "bundled model written to $target"

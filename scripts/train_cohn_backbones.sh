#!/usr/bin/env bash
# Train all five backbones on the real Cohn enhancer data in ../shared/data (4,948 x 500 bp, split
# 80/10/10 stratified with seed 0, the split of the bundled model) on CPU, each capped at 28
# minutes of training, then print the comparison table (the paper's and the measured one).
#
#   bash scripts/train_cohn_backbones.sh [SHARED_DATA_DIR] [WORK_DIR]
#
# Sizes are the CPU-friendly ones measured in the closing notes (Caduceus d_model 32, d_state 8;
# the others their tiny presets; the hybrid at d_model 64). Runs one after another: with 2 cores,
# two at once only make both slower.
set -euo pipefail
shared=${1:-../shared/data}
work=${2:-runs/cohn_backbones}
mkdir -p "$work"

python "$(dirname "$0")/cohn_table.py" "$shared/gb_cohn_test_sequences/cohn_dev.tsv.gz" "$work/cohn_dev.tsv"
dnaseq preprocess "$work/cohn_dev.tsv" -o "$work/dataset" --seed 0 --force --quiet

train() {
  local name=$1
  shift
  echo "training $name ($(date +%T))"
  dnaseq train "$work/dataset" -o "$work/$name" --force --quiet --seed 0 "$@"
}
train caduceus -b caduceus --size tiny --model-config '{"d_model": 32, "ssm_cfg": {"d_state": 8}}' \
  --epochs 6 --patience 3 --max-time 27m
train bigbird -b bigbird --size tiny --epochs 14 --patience 4 --max-time 28m
train gnn -b gnn --size tiny --epochs 14 --patience 4 --max-time 28m
train hybrid -b hybrid --size tiny --model-config '{"d_model": 64, "n_layers": 1, "kmer_sizes": [1, 2, 3, 4, 5, 6], "stem_kernels": [9], "pool_sizes": [10, 5], "dropout": 0.2}' \
  --shift-augment 25 --epochs 20 --patience 5 --max-time 28m
train cnn -b cnn --size small --epochs 15 --patience 4 --max-time 28m

dnaseq compare "$work"/{caduceus,bigbird,gnn,hybrid,cnn} --with-paper -o "$work/comparison"

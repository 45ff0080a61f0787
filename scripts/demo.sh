#!/usr/bin/env bash
# The main job: train LeNet-300-100 on Fashion-MNIST, then prune it to 90% sparsity while fine-tuning
# (PolynomialDecay 0.5 -> 0.9), and print the reports before and after with the results table.
set -euo pipefail
build="${1:-build}"
cd "$(dirname "$0")/.."
shrink="$build/apps/shrink"
"$shrink" train --model lenet300 --dataset fashion-mnist --epochs 3 --batch-size 128 \
  --out "$build/lenet300-fashion.shrink"
echo
exec "$shrink" prune "$build/lenet300-fashion.shrink" --dataset fashion-mnist --schedule polynomial \
  --initial-sparsity 0.5 --final-sparsity 0.9 --frequency 100 --epochs 2 --batch-size 128 \
  --out "$build/lenet300-fashion-pruned.shrink"

#!/usr/bin/env bash
# The main job: train LeNet-300-100 on Fashion-MNIST and print the results table.
set -euo pipefail
build="${1:-build}"
cd "$(dirname "$0")/.."
exec "$build/apps/shrink" train --model lenet300 --dataset fashion-mnist --epochs 3 --batch-size 128 \
  --out "$build/lenet300-fashion.shrink"

#!/usr/bin/env bash
# The main job: train LeNet-300-100 on Fashion-MNIST and compress it in the same run with the
# example recipe (train, prune to 90% with PolynomialDecay, cluster into 16 shared values keeping
# the zeros, quantization-aware training that keeps both, export to the Deep Compression .shrinkz
# file), printing the results table of every stage.
set -euo pipefail
build="${1:-build}"
cd "$(dirname "$0")/.."
shrink="$build/apps/shrink"
recipe="$build/demo-recipe.json"
sed "s#\"lenet300_fashion_mnist.shrinkz\"#\"$build/lenet300-fashion.shrinkz\"#" docs/recipes/fashion_mnist_lenet300.json > "$recipe"
exec "$shrink" compress --model lenet300 --dataset fashion-mnist --recipe "$recipe" --plot "$build/demo-stages.svg"

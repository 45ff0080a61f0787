"""Friedman #1 pruned from scratch with tfmot itself, to compare with apps/repro/friedman_pruning.

The recipe of the source's "whole model" run: Dense(128, relu) -> Dense(1, relu), every Dense wrapped
in prune_low_magnitude with ConstantSparsity(0.5, begin_step=0) before any training, Adam (Keras
defaults), MSE, batch 32, up to 100 epochs with 20% validation and EarlyStopping(patience=10);
make_friedman1 without noise, 10,000 samples, 33% test. Prints the test MSE of each seed.

Needs tensorflow-cpu, tf-keras and tensorflow-model-optimization (pip), e.g. in ~/.cache/shrink-venv:
  ~/.cache/shrink-venv/bin/python scripts/friedman_tfmot.py --seeds 0 1 2 3 [--dense]
"""
import argparse
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402


def friedman1(n, rng):
    x = rng.uniform(size=(n, 10)).astype(np.float32)
    y = 10 * np.sin(np.pi * x[:, 0] * x[:, 1]) + 20 * (x[:, 2] - 0.5) ** 2 + 10 * x[:, 3] + 5 * x[:, 4]
    return x, y.astype(np.float32)


def run(seed, dense):
    rng = np.random.RandomState(seed)
    x, y = friedman1(10000, rng)
    order = rng.permutation(len(x))
    test, train = order[:3300], order[3300:]
    tf.random.set_seed(seed)
    model = keras.Sequential([keras.layers.Dense(128, activation="relu", input_shape=(10,)),
                              keras.layers.Dense(1, activation="relu")])
    callbacks = [keras.callbacks.EarlyStopping(patience=10)]
    if not dense:
        model = tfmot.sparsity.keras.prune_low_magnitude(
            model, pruning_schedule=tfmot.sparsity.keras.ConstantSparsity(0.5, begin_step=0))
        callbacks.insert(0, tfmot.sparsity.keras.UpdatePruningStep())
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x[train], y[train], epochs=100, batch_size=32, validation_split=0.2,
                        callbacks=callbacks, verbose=0)
    mse = model.evaluate(x[test], y[test], verbose=0)
    print(f"seed {seed}: {'dense' if dense else 'pruned from scratch'}, "
          f"{len(history.history['loss'])} epochs, test MSE {mse:.4f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--dense", action="store_true", help="train without pruning instead")
    args = parser.parse_args()
    for seed in args.seeds:
        run(seed, args.dense)


if __name__ == "__main__":
    main()

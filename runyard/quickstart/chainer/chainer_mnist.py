"""Chainer MNIST training script, written as the v1 tutorial's chainer_mnist.py.

Runs unchanged on Azure ML v1 and on Runyard: it imports only ``azureml.core``. The data
folder is a mounted FileDataset in Chainer's layout (``pfnet/chainer/mnist/{train,test}.npz``),
so ``chainer.datasets.get_mnist`` reads it instead of downloading.
"""

import argparse
import os

import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np
from azureml.core.run import Run
from chainer import Chain, iterators, optimizers, serializers
from chainer.dataset import concat_examples

run = Run.get_context()


class MyNetwork(Chain):
    def __init__(self, n_mid_units=100, n_out=10):
        super().__init__()
        with self.init_scope():
            self.l1 = L.Linear(None, n_mid_units)
            self.l2 = L.Linear(n_mid_units, n_mid_units)
            self.l3 = L.Linear(n_mid_units, n_out)

    def forward(self, x):
        h = F.relu(self.l1(x))
        h = F.relu(self.l2(h))
        return self.l3(h)


def evaluate(model, test, batchsize):
    losses, accuracies = [], []
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        for batch in iterators.SerialIterator(test, batchsize, repeat=False, shuffle=False):
            x, t = concat_examples(batch)
            y = model(x)
            losses.append(float(F.softmax_cross_entropy(y, t).array) * len(t))
            accuracies.append(float(F.accuracy(y, t).array) * len(t))
    return sum(losses) / len(test), sum(accuracies) / len(test)


def main():
    parser = argparse.ArgumentParser(description="Chainer example: MNIST")
    parser.add_argument(
        "--data-folder",
        type=str,
        dest="data_folder",
        default=None,
        help="dataset root holding pfnet/chainer/mnist (CHAINER_DATASET_ROOT)",
    )
    parser.add_argument(
        "--batchsize", "-b", type=int, default=100, help="Number of images in each mini-batch"
    )
    parser.add_argument(
        "--epochs", "-e", type=int, default=20, help="Number of sweeps over the dataset to train"
    )
    parser.add_argument("--unit", "-u", type=int, default=100, help="Number of hidden units")
    parser.add_argument(
        "--output_dir", "-o", default="./outputs", help="Directory to output the result"
    )
    args = parser.parse_args()

    if args.data_folder:
        chainer.dataset.set_dataset_root(args.data_folder)
    train, test = chainer.datasets.get_mnist()
    print(f"MNIST: {len(train)} training and {len(test)} test digits")

    run.log("Batch size", args.batchsize)
    run.log("Epochs", args.epochs)

    np.random.seed(0)
    model = MyNetwork(n_mid_units=args.unit)
    optimizer = optimizers.MomentumSGD(lr=0.01, momentum=0.9)
    optimizer.setup(model)
    train_iter = iterators.SerialIterator(train, args.batchsize)

    while train_iter.epoch < args.epochs:
        x, t = concat_examples(train_iter.next())
        loss = F.softmax_cross_entropy(model(x), t)
        model.cleargrads()
        loss.backward()
        optimizer.update()
        if train_iter.is_new_epoch:
            val_loss, val_accuracy = evaluate(model, test, args.batchsize)
            print(
                f"epoch:{train_iter.epoch:02d} train_loss:{float(loss.array):.04f} "
                f"val_loss:{val_loss:.04f} val_accuracy:{val_accuracy:.04f}",
                flush=True,
            )
            run.log("Loss", val_loss)
            run.log("Accuracy", val_accuracy)

    os.makedirs(args.output_dir, exist_ok=True)
    serializers.save_npz(os.path.join(args.output_dir, "model.npz"), model)


if __name__ == "__main__":
    main()

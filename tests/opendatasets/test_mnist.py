import subprocess
import sys

import numpy as np
import pytest

from runyard.exceptions import UserErrorException
from runyard.opendatasets import MNIST


def test_sample_is_in_chainer_layout():
    root = MNIST.get_local_path()
    assert sorted(p.name for p in (root / "pfnet/chainer/mnist").iterdir()) == [
        "test.npz",
        "train.npz",
    ]
    assert MNIST.get_file_paths() == [
        root / "pfnet/chainer/mnist/train.npz",
        root / "pfnet/chainer/mnist/test.npz",
    ]


def test_npz_keys_and_dtypes_match_chainer_make_npz():
    # chainer.datasets._mnist_helper.make_npz writes x (uint8, N x 784) and y (uint8).
    for path, n in zip(MNIST.get_file_paths(), (4000, 1000), strict=True):
        with np.load(path) as npz:
            assert sorted(npz.files) == ["x", "y"]
            assert npz["x"].shape == (n, 784) and npz["x"].dtype == np.uint8
            assert npz["y"].shape == (n,) and npz["y"].dtype == np.uint8


def test_splits_are_balanced_real_digits():
    x_train, y_train = MNIST.to_numpy("train")
    x_test, y_test = MNIST.to_numpy("test")
    assert np.bincount(y_train).tolist() == [400] * 10
    assert np.bincount(y_test).tolist() == [100] * 10
    # Real handwriting: mostly blank background, dark strokes, no two splits sharing an image.
    assert 0.7 < (x_train == 0).mean() < 0.9
    assert x_train.max() == 255
    train_rows = {row.tobytes() for row in x_train}
    assert not any(row.tobytes() in train_rows for row in x_test)


def test_to_numpy_rejects_unknown_filter():
    with pytest.raises(UserErrorException, match=r"to_numpy\(dataset_filter='all'\): pass 'train'"):
        MNIST.to_numpy("all")


def test_get_file_paths_rejects_unknown_filter():
    with pytest.raises(UserErrorException, match="dataset_filter='val' is not one of"):
        MNIST.get_file_paths("val")


def test_importing_opendatasets_does_not_import_numpy():
    code = "import sys, runyard.opendatasets; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

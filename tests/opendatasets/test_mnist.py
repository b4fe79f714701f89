import gzip
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from runyard.exceptions import UserErrorException
from runyard.opendatasets import MNIST, _idx_files


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


# ---- v1's file layout -----------------------------------------------------------------------
V1_FILES = [
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
]

# The v1 samples' loader (tutorials/image-classification-mnist-data/utils.py and the Chainer
# sample's datautils.py, Azure/MachineLearningNotebooks, MIT), as they glob for the files.
V1_LOADER = """
import glob, gzip, os, struct
import numpy as np


def load_data(filename, label=False):
    with gzip.open(filename) as gz:
        struct.unpack('I', gz.read(4))
        n_items = struct.unpack('>I', gz.read(4))
        if not label:
            n_rows = struct.unpack('>I', gz.read(4))[0]
            n_cols = struct.unpack('>I', gz.read(4))[0]
            res = np.frombuffer(gz.read(n_items[0] * n_rows * n_cols), dtype=np.uint8)
            res = res.reshape(n_items[0], n_rows * n_cols)
        else:
            res = np.frombuffer(gz.read(n_items[0]), dtype=np.uint8)
            res = res.reshape(n_items[0], 1)
    return res


def load_all(data_folder):
    def find(name):
        return glob.glob(os.path.join(data_folder, '**/' + name), recursive=True)[0]

    return (
        load_data(find('train-images-idx3-ubyte.gz'), False),
        load_data(find('train-labels-idx1-ubyte.gz'), True).reshape(-1),
        load_data(find('t10k-images-idx3-ubyte.gz'), False),
        load_data(find('t10k-labels-idx1-ubyte.gz'), True).reshape(-1),
    )
"""


def _v1_loader():
    namespace: dict = {}
    exec(V1_LOADER, namespace)
    return namespace["load_all"]


def test_file_dataset_holds_v1_files_and_chainer_layout(runyard_home):
    assert MNIST.get_file_dataset().to_path() == [
        "/pfnet/chainer/mnist/test.npz",
        "/pfnet/chainer/mnist/train.npz",
        *(f"/{name}" for name in V1_FILES),
    ]


def test_file_dataset_filters_give_one_split_as_v1(runyard_home):
    assert MNIST.get_file_dataset("train").to_path() == [
        "/train-images-idx3-ubyte.gz",
        "/train-labels-idx1-ubyte.gz",
    ]
    assert MNIST.get_file_dataset("test").to_path() == [
        "/t10k-images-idx3-ubyte.gz",
        "/t10k-labels-idx1-ubyte.gz",
    ]


def test_file_dataset_rejects_unknown_filter(runyard_home):
    with pytest.raises(UserErrorException, match="dataset_filter='val' is not one of"):
        MNIST.get_file_dataset("val")


def test_downloaded_idx_files_read_back_with_the_samples_loader(runyard_home, tmp_path):
    written = MNIST.get_file_dataset().download(tmp_path / "data", overwrite=True)
    assert sorted(Path(p).name for p in written if p.endswith(".gz")) == V1_FILES
    x_train, y_train, x_test, y_test = _v1_loader()(str(tmp_path / "data"))
    expected_train, expected_test = MNIST.to_numpy("train"), MNIST.to_numpy("test")
    assert np.array_equal(x_train, expected_train[0]) and np.array_equal(y_train, expected_train[1])
    assert np.array_equal(x_test, expected_test[0]) and np.array_equal(y_test, expected_test[1])
    # The headers as the IDX format defines them: big-endian magic, count, rows, columns.
    with gzip.open(tmp_path / "data/train-images-idx3-ubyte.gz") as gz:
        assert struct.unpack(">IIII", gz.read(16)) == (2051, 4000, 28, 28)
    with gzip.open(tmp_path / "data/t10k-labels-idx1-ubyte.gz") as gz:
        assert struct.unpack(">II", gz.read(8)) == (2049, 1000)
        assert len(gz.read()) == 1000


def test_idx_files_are_the_same_bytes_whenever_built(tmp_path):
    first = _idx_files.materialize(MNIST.get_local_path(), tmp_path / "one")
    second = _idx_files.materialize(MNIST.get_local_path(), tmp_path / "two")
    for name in V1_FILES:
        assert (first / name).read_bytes() == (second / name).read_bytes()
    assert first.name == second.name  # named for the bundled npz files' digest
    # Built once: a second call finds the folder and writes nothing.
    stamp = (first / V1_FILES[0]).stat().st_mtime_ns
    assert _idx_files.materialize(MNIST.get_local_path(), tmp_path / "one") == first
    assert (first / V1_FILES[0]).stat().st_mtime_ns == stamp


def test_idx_files_are_built_by_concurrent_processes_without_clashing(
    runyard_home, tmp_path, start_together
):
    script = tmp_path / "build.py"
    script.write_text(
        "from runyard.opendatasets import MNIST\n"
        "def main():\n"
        "    print(sorted(MNIST.get_file_dataset().to_path()))\n"
    )
    procs = start_together([[str(script)]] * 3, stdout=subprocess.PIPE, text=True)
    outputs = [proc.communicate(timeout=60)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0]
    assert len(set(outputs)) == 1 and "train-images-idx3-ubyte.gz" in outputs[0]
    cache = runyard_home / "cache/opendatasets"
    assert [p.name.startswith("mnist-") for p in cache.iterdir()] == [True]


def test_idx_files_are_built_without_numpy(runyard_home, tmp_path):
    # A job's or a service's environment may lack numpy: only the standard library is used.
    code = (
        "import sys\n"
        "class Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] == 'numpy':\n"
        "            raise ImportError('numpy is not installed here')\n"
        "sys.meta_path.insert(0, Refuse())\n"
        "from runyard.opendatasets import MNIST\n"
        f"print(len(MNIST.get_file_dataset().download({str(tmp_path / 'd')!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "6"
    x_train, *_ = _v1_loader()(str(tmp_path / "d"))
    assert x_train.shape == (4000, 784)


JOB_READS_THE_MOUNT = (
    V1_LOADER
    + """
import sys
x_train, y_train, x_test, y_test = load_all(sys.argv[1])
print('SHAPES', x_train.shape, y_train.shape, x_test.shape, y_test.shape)
print('PER DIGIT', np.bincount(y_train).tolist(), np.bincount(y_test).tolist())
print('CHAINER', os.path.exists(os.path.join(sys.argv[1], 'pfnet/chainer/mnist/train.npz')))
"""
)

# The Chainer sample's datautils.download_mnist(): the job itself downloads the dataset.
JOB_DOWNLOADS_IT_ITSELF = (
    V1_LOADER
    + """
from azureml.opendatasets import MNIST
data_folder = os.path.join(os.getcwd(), 'data/mnist')
os.makedirs(data_folder, exist_ok=True)
MNIST.get_file_dataset().download(data_folder, overwrite=True)
x_train, y_train, x_test, y_test = load_all(data_folder)
print('SHAPES', x_train.shape, y_train.shape, x_test.shape, y_test.shape)
"""
)


def test_a_job_globs_the_gz_files_in_the_mounted_file_dataset(ws, services, source, driver_log):
    from runyard.core import Experiment, ScriptRunConfig

    mnist = MNIST.get_file_dataset().as_named_input("mnist").as_mount()
    src = source(**{"train.py": JOB_READS_THE_MOUNT})
    config = ScriptRunConfig(src, "train.py", arguments=[mnist])
    run = Experiment(ws, "mnist-v1").submit(config)
    details = run.wait_for_completion(raise_on_error=False)
    log = driver_log(services, run.id)
    assert details["status"] == "Completed", log
    assert "SHAPES (4000, 784) (4000,) (1000, 784) (1000,)" in log
    assert f"PER DIGIT {[400] * 10} {[100] * 10}" in log
    assert "CHAINER True" in log


def test_a_job_downloads_the_file_dataset_itself(ws, services, source, driver_log):
    from runyard.core import Experiment, ScriptRunConfig

    config = ScriptRunConfig(source(**{"train.py": JOB_DOWNLOADS_IT_ITSELF}), "train.py")
    run = Experiment(ws, "mnist-v1").submit(config)
    details = run.wait_for_completion(raise_on_error=False)
    log = driver_log(services, run.id)
    assert details["status"] == "Completed", log
    assert "SHAPES (4000, 784) (4000,) (1000, 784) (1000,)" in log

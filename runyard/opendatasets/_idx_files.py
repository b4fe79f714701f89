"""v1's MNIST files (``train-images-idx3-ubyte.gz`` and three more), made from the bundled npz.

v1's ``MNIST.get_file_dataset()`` globs ``*.gz`` at the root of the open-datasets ``mnist``
container (azureml-opendatasets 1.62.0, ``dataaccess/_mnist_blob_accessor.py``: ``train-*.gz``
or ``t10k-*.gz`` for a filter), so the four files sit at the dataset's root. Each is an IDX
file, gzipped: big-endian magic 2051 (images) or 2049 (labels), the item count, for images
the rows and columns, then one unsigned byte per pixel or label.

They are written once per bundled sample into ``$RUNYARD_HOME/cache/opendatasets/``, in a
folder named for the npz files' digest that also holds a copy of Chainer's layout, so one
FileDataset offers both. The folder is built aside and renamed into place, so concurrent
drivers and jobs never see half of it; gzip's timestamp is fixed, so the bytes are the same
every time. Only the standard library is used: a job's or a service's environment may lack
numpy.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import shutil
import struct
import tempfile
import zipfile
from pathlib import Path

from runyard.exceptions import UserErrorException

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
ROWS = COLS = 28
# npz split -> v1's file prefix
PREFIXES = {"train": "train", "test": "t10k"}
CHAINER_DIR = "pfnet/chainer/mnist"
_NPY_MAGIC = b"\x93NUMPY"


def v1_file_names(split: str) -> tuple[str, str]:
    """(images, labels) file names of one split, as v1 names them."""
    prefix = PREFIXES[split]
    return f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"


def _read_npy(archive: zipfile.ZipFile, member: str) -> tuple[tuple[int, ...], bytes]:
    """(shape, raw bytes) of a C-ordered uint8 array stored in an npz (numpy's .npy format)."""
    with archive.open(member) as stream:
        if stream.read(6) != _NPY_MAGIC:
            raise UserErrorException(f"{member} of {archive.filename} is not a .npy array.")
        major = stream.read(2)[0]
        size = struct.unpack("<H" if major == 1 else "<I", stream.read(2 if major == 1 else 4))
        header = ast.literal_eval(stream.read(size[0]).decode("latin1"))
        if header["descr"] not in ("|u1", "<u1", ">u1") or header["fortran_order"]:
            raise UserErrorException(
                f"{member} of {archive.filename} holds {header['descr']} data; the bundled "
                "MNIST sample must be C-ordered uint8 (rebuild it with tools/make_mnist_sample.py)."
            )
        return tuple(header["shape"]), stream.read()


def idx_files(npz: Path, split: str) -> dict[str, bytes]:
    """v1 file name -> uncompressed IDX bytes, for one npz split (``x``: N x 784, ``y``: N)."""
    with zipfile.ZipFile(npz) as archive:
        (count, pixels), images = _read_npy(archive, "x.npy")
        (labels_count,), labels = _read_npy(archive, "y.npy")
    if pixels != ROWS * COLS or labels_count != count:
        raise UserErrorException(
            f"{npz} holds {count} images of {pixels} pixels and {labels_count} labels; "
            f"MNIST needs N images of {ROWS * COLS} pixels and N labels."
        )
    images_name, labels_name = v1_file_names(split)
    return {
        images_name: struct.pack(">IIII", IMAGES_MAGIC, count, ROWS, COLS) + images,
        labels_name: struct.pack(">II", LABELS_MAGIC, count) + labels,
    }


def _write_gzip(path: Path, content: bytes) -> None:
    with (
        path.open("wb") as raw,
        gzip.GzipFile("", "wb", compresslevel=6, fileobj=raw, mtime=0) as gz,
    ):
        gz.write(content)


def _digest(paths: list[Path]) -> str:
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.read_bytes())
    return sha.hexdigest()[:16]


def materialize(bundled_root: Path, cache_dir: Path) -> Path:
    """The folder holding v1's four gz files and Chainer's ``pfnet/chainer/mnist/*.npz``.

    Built under ``cache_dir`` from the npz files of ``bundled_root`` the first time, reused
    after (a new sample gets a new folder).
    """
    npz = {split: bundled_root / CHAINER_DIR / f"{split}.npz" for split in PREFIXES}
    final = cache_dir / f"mnist-{_digest(list(npz.values()))}"
    if final.is_dir():
        return final
    cache_dir.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".mnist-", dir=cache_dir))
    try:
        (building / CHAINER_DIR).mkdir(parents=True)
        for split, source in npz.items():
            shutil.copyfile(source, building / CHAINER_DIR / source.name)
            for name, content in idx_files(source, split).items():
                _write_gzip(building / name, content)
        building.chmod(0o755)  # mkdtemp's 0700 would hide the files from a job's user
        try:
            building.rename(final)
        except OSError:
            if not final.is_dir():  # not a concurrent builder that got there first
                raise
    finally:
        if building.exists():
            shutil.rmtree(building)
    return final

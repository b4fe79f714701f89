"""Conda package specs -> PyPI requirement strings.

There is no conda here: a conda package becomes its PyPI twin when one exists, and a
package without a twin is an error that names it (the user moves it to pip_packages, or
drops it). Version specs follow conda's match-spec rules: ``numpy=1.21`` is a prefix match
(``numpy==1.21.*``), ``numpy==1.21`` is exact, ``numpy>=1.2`` passes through, and a build
string (``numpy=1.21.2=py39h...``) is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runyard.exceptions import CondaPackageNotMappable, InvalidCondaSpec

# conda name -> PyPI name. Any other name maps to itself (checked for those in _SAME_NAME).
_RENAMED: dict[str, str] = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "pytorch-gpu": "torch",
    "tensorflow-gpu": "tensorflow",
    "tensorflow-cpu": "tensorflow",
    "matplotlib-base": "matplotlib",
    "py-xgboost": "xgboost",
    "py-opencv": "opencv-python",
    "opencv": "opencv-python",
    "pytables": "tables",
    "pyyaml": "PyYAML",
    "ruamel.yaml": "ruamel.yaml",
    "msgpack-python": "msgpack",
    "tensorboardx": "tensorboardX",
    "pillow-simd": "pillow",
    # The conda cupy build targets the CUDA toolkit in the env; on PyPI the matching
    # binary wheel for CUDA 12 is cupy-cuda12x (the plain "cupy" sdist needs nvcc).
    "cupy": "cupy-cuda12x",
}

# fmt: off
_SAME_NAME = frozenset((
    "pip", "setuptools", "wheel", "numpy", "scipy", "pandas", "scikit-learn", "scikit-image",
    "matplotlib", "seaborn", "chainer", "chainercv", "chainerrl", "torchvision", "torchaudio",
    "tensorflow", "tensorflow-estimator", "keras", "tensorboard", "pillow", "h5py", "mpi4py",
    "xgboost", "lightgbm", "catboost", "requests", "tqdm", "joblib", "cython", "numba",
    "llvmlite", "sympy", "networkx", "statsmodels", "psutil", "pyarrow", "protobuf", "onnx",
    "onnxruntime", "nltk", "gensim", "spacy", "dask", "distributed", "ipykernel", "jupyter",
    "notebook", "ipython", "six", "idna", "filelock", "typing-extensions", "packaging", "click",
    "pytest", "pyparsing", "python-dateutil", "pytz", "tzdata", "attrs", "jinja2", "markupsafe",
    "certifi", "urllib3", "charset-normalizer", "fsspec", "cloudpickle", "toolz", "pydot",
    "plotly", "bokeh", "altair", "shap", "optuna", "mlflow", "transformers", "tokenizers",
    "datasets", "sentencepiece", "horovod", "imageio", "tifffile", "opencv-python",
    "opencv-python-headless", "numexpr", "bottleneck",
))
# fmt: on

# Conda-only packages that have no usable PyPI twin, and what to do instead.
_NO_TWIN: dict[str, str] = {
    "cudatoolkit": "PyPI wheels such as torch and cupy-cuda12x bring their own CUDA runtime",
    "cuda-toolkit": "PyPI wheels such as torch and cupy-cuda12x bring their own CUDA runtime",
    "cudnn": "PyPI wheels such as torch bring their own cuDNN (nvidia-cudnn-cu12)",
    "nccl": "PyPI wheels such as torch bring their own NCCL (nvidia-nccl-cu12)",
    "cpuonly": "PyPI's torch CPU build needs no marker package; drop it",
    # PyPI numpy/scipy wheels link OpenBLAS, so conda's MKL builds have no twin; the PyPI
    # "mkl" package is the bare runtime library, which those wheels would not use.
    "mkl": "PyPI numpy/scipy wheels use OpenBLAS; add pip_packages=['mkl'] only if you "
    "load MKL yourself",
    "mkl-service": "PyPI numpy/scipy wheels use OpenBLAS",
    "nomkl": "PyPI numpy/scipy wheels use OpenBLAS already; drop it",
    "blas": "PyPI numpy/scipy wheels bundle their BLAS; drop it",
    "libblas": "PyPI numpy/scipy wheels bundle their BLAS; drop it",
    "openblas": "PyPI numpy/scipy wheels bundle OpenBLAS; drop it",
    "intel-openmp": "a system library, not a Python package",
    "libgcc-ng": "a system library, not a Python package",
    "libstdcxx-ng": "a system library, not a Python package",
    "openssl": "a system library, not a Python package",
    "ca-certificates": "a system package; use pip_packages=['certifi'] if needed",
    "graphviz": "the conda package is the Graphviz binaries (apt install graphviz); the "
    "PyPI 'graphviz' package is only the Python bindings",
    "arrow-cpp": "use pip_packages=['pyarrow'], which bundles Arrow",
    "libprotobuf": "use pip_packages=['protobuf']",
    "r-base": "R is not supported",
}

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_OPS = ("==", ">=", "<=", "!=", "~=", ">", "<", "=")


@dataclass(frozen=True, slots=True)
class MappedConda:
    """What one conda package became: a PyPI requirement, or the Python version."""

    requirement: str | None = None
    python_version: str | None = None
    # True when the PyPI name is a guess (same name as on conda, not in the checked table).
    assumed: bool = False


def conda_name(spec: str) -> str:
    """The bare package name of a conda spec (channel and version dropped), lower-cased."""
    spec = spec.strip()
    if "::" in spec:
        spec = spec.split("::", 1)[1]
    match = re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*", spec)
    return match.group(0).lower() if match else spec.lower()


def _split(spec: str) -> tuple[str, str]:
    """``conda-forge::numpy >=1.2`` -> ("numpy", ">=1.2")."""
    raw = spec.strip()
    if "::" in raw:
        raw = raw.split("::", 1)[1].strip()
    match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)$", raw)
    if match is None:
        raise InvalidCondaSpec(spec, "it does not start with a package name")
    return match.group(1), match.group(2).strip()


def _version_spec(spec: str, rest: str) -> str:
    """A conda version constraint as a PEP 440 specifier ('' when unpinned)."""
    if not rest:
        return ""
    if "|" in rest:
        raise InvalidCondaSpec(spec, "pip cannot express conda's '|' (or) between versions")
    if rest[0] not in "=<>!~":
        # "numpy 1.21" (space-separated match spec) means the same as "numpy=1.21".
        rest = "=" + rest.split()[0]
    if rest.startswith("=") and not rest.startswith("=="):
        # conda's single '=' is a prefix match; a second '=' starts a build string.
        version = rest[1:].split("=", 1)[0].strip()
        if not re.fullmatch(r"[0-9][0-9A-Za-z.]*(\.\*)?", version):
            raise InvalidCondaSpec(spec, f"{version!r} is not a version")
        return f"=={version}" if version.endswith("*") else f"=={version}.*"
    parts = []
    for clause in rest.split(","):
        clause = clause.strip()
        if clause.startswith("==") and clause.count("=") > 2:
            clause = "==" + clause[2:].split("=", 1)[0]  # ==1.2=build
        if not any(clause.startswith(op) for op in _OPS) or not re.fullmatch(
            r"(==|>=|<=|!=|~=|>|<)\s*[0-9][0-9A-Za-z.*+!-]*", clause
        ):
            raise InvalidCondaSpec(spec, f"{clause!r} is not a version constraint")
        parts.append(clause.replace(" ", ""))
    return ",".join(parts)


def map_conda_package(spec: str) -> MappedConda:
    """One conda spec -> its PyPI requirement (or the Python version for ``python``).

    Raises InvalidCondaSpec for a spec pip cannot express and CondaPackageNotMappable
    for a package without a PyPI twin (the _NO_TWIN table).
    """
    name, rest = _split(spec)
    if not _NAME_RE.match(name):
        raise InvalidCondaSpec(spec, f"{name!r} is not a package name")
    key = name.lower()
    version = _version_spec(spec, rest)
    if key == "python":
        if not version:
            return MappedConda()
        if not version.startswith("=="):
            raise InvalidCondaSpec(spec, "give Python as python=3.X or python=3.X.Y")
        return MappedConda(python_version=version[2:].removesuffix(".*"))
    if key in _NO_TWIN:
        raise CondaPackageNotMappable(name, _NO_TWIN[key])
    if key in _RENAMED:
        return MappedConda(requirement=f"{_RENAMED[key]}{version}")
    # Most conda-forge names are the PyPI names; a wrong guess fails the build with uv's
    # "not found" message naming the package.
    return MappedConda(requirement=f"{key}{version}", assumed=key not in _SAME_NAME)


def map_conda_packages(specs: list[str]) -> tuple[list[str], str | None]:
    """All conda specs -> (PyPI requirements, python version or None).

    Every spec is checked first, so one error names every package without a twin.
    """
    requirements: list[str] = []
    python_version: str | None = None
    unmapped: list[CondaPackageNotMappable] = []
    for spec in specs:
        try:
            mapped = map_conda_package(spec)
        except CondaPackageNotMappable as exc:
            unmapped.append(exc)
            continue
        if mapped.python_version is not None:
            python_version = mapped.python_version
        elif mapped.requirement is not None:
            requirements.append(mapped.requirement)
    if len(unmapped) == 1:
        raise unmapped[0]
    if unmapped:
        raise CondaPackageNotMappable.many(unmapped)
    return requirements, python_version

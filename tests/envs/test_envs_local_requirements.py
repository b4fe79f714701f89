"""Local paths in a requirements file are read from the file's folder, as pip does, and the
environment (built in the cache folder) really installs them."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import zipfile
from pathlib import Path

from runyard._envs import BuildSettings, ensure_env, resolve_spec
from runyard.core.environment import Environment


def _wheel(folder: Path, name: str = "localpkg", version: str = "1.0") -> Path:
    """A minimal, valid pure-Python wheel holding one module."""
    path = folder / f"{name}-{version}-py3-none-any.whl"
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": b"VALUE = 42\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = []
    for arcname, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{arcname},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    with zipfile.ZipFile(path, "w") as zf:
        for arcname, data in files.items():
            zf.writestr(arcname, data)
    return path


def test_relative_wheel_and_constraints_resolve_from_the_requirements_folder(
    tmp_path: Path, build_settings: BuildSettings, log, monkeypatch
):
    project = tmp_path / "project"
    (project / "dist").mkdir(parents=True)
    _wheel(project / "dist")
    (project / "constraints.txt").write_text("six<2\n")
    req = project / "requirements.txt"
    req.write_text("./dist/localpkg-1.0-py3-none-any.whl\nsix\n-c constraints.txt\n")
    monkeypatch.chdir(tmp_path)  # elsewhere: relative paths must not depend on the cwd

    env = Environment.from_pip_requirements("local", req)
    packages = env.python.conda_dependencies.pip_packages
    assert str(project / "dist" / "localpkg-1.0-py3-none-any.whl") in packages
    assert f"-c {project / 'constraints.txt'}" in env.python.conda_dependencies.pip_options

    built = ensure_env(resolve_spec(env._serialize_to_dict()).spec, build_settings, log)
    out = subprocess.run(
        [built.python, "-c", "import localpkg, six; print(localpkg.VALUE, six.__version__)"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr + log.text()
    value, six_version = out.stdout.split()
    assert value == "42" and six_version.startswith("1.")

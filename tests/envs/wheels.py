"""Tiny real wheels for tests, written with zipfile: a find-links folder or a file:// simple
index that uv and pip read like any other, with no network and no build backend."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path


def make_wheel(folder: Path, name: str, version: str, tag: str = "py3-none-any") -> Path:
    """``<folder>/<name>-<version>-<tag>.whl``: a package ``<name>`` (import name with
    underscores) whose ``VERSION`` is ``version``."""
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f"VERSION = {version!r}\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: runyard-tests\nRoot-Is-Purelib: true\nTag: {tag}\n"
        ),
    }
    record = [f"{path},sha256={_digest(text)},{len(text.encode())}" for path, text in files.items()]
    files[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{module}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for member, text in files.items():
            zf.writestr(member, text)
    return path


def make_simple_index(root: Path, wheels: list[Path]) -> str:
    """A PEP 503 index under ``root`` listing ``wheels``; returns its file:// URL."""
    by_project: dict[str, list[Path]] = {}
    for wheel in wheels:
        project = wheel.name.split("-")[0].replace("_", "-").lower()
        by_project.setdefault(project, []).append(wheel)
    root.mkdir(parents=True, exist_ok=True)
    links = []
    for project, files in by_project.items():
        page = root / project
        page.mkdir(exist_ok=True)
        anchors = [f'<a href="{w.as_uri()}">{w.name}</a>' for w in files]
        (page / "index.html").write_text("<html><body>" + "".join(anchors) + "</body></html>")
        links.append(f'<a href="{project}/">{project}</a>')
    (root / "index.html").write_text("<html><body>" + "".join(links) + "</body></html>")
    return root.as_uri()


def _digest(text: str) -> str:
    raw = hashlib.sha256(text.encode()).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

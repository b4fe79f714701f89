"""Artifact names: the relative POSIX paths a run's or model's files are stored under.

A leaf (it imports only runyard.exceptions), so the SDK, the job side, the services and the
stores all check names the same way without importing each other.
"""

from __future__ import annotations

import posixpath
from pathlib import PurePosixPath

from runyard.exceptions import InvalidArtifactName


def check_artifact_name(name: object) -> str:
    """Returns the normalised name, or raises InvalidArtifactName naming the problem.

    Accepts relative POSIX paths; refuses absolute paths, drive letters, backslashes,
    ``..`` segments, empty names and names that would escape the run's folder."""
    if not isinstance(name, str):
        raise InvalidArtifactName(name, f"it must be a str, not {type(name).__name__}")
    if not name or not name.strip():
        raise InvalidArtifactName(name, "it is empty")
    if "\x00" in name:
        raise InvalidArtifactName(name, "it contains a NUL character")
    if "\\" in name:
        raise InvalidArtifactName(name, "use '/' as the separator, not '\\'")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise InvalidArtifactName(name, "it is an absolute path")
    parts = PurePosixPath(name).parts
    if ".." in parts:
        raise InvalidArtifactName(name, "'..' would leave the run's folder")
    norm = posixpath.normpath(name)
    if norm in (".", "") or norm.startswith("../"):
        raise InvalidArtifactName(name, "it does not name a file inside the run")
    return norm

"""Artifact names: the relative POSIX paths a run's or model's files are stored under.

A leaf (it imports only runyard.exceptions), so the SDK, the job side, the services and the
stores all check names the same way without importing each other.
"""

from __future__ import annotations

import posixpath
from pathlib import PurePosixPath

from runyard.exceptions import InvalidArtifactName

# Azure's blob (artifact) name limit, which v1 runs hit at the same length.
MAX_ARTIFACT_NAME_LENGTH = 1024
# One path component on the folder artifact store (NAME_MAX on Linux and macOS).
MAX_ARTIFACT_PART_BYTES = 255


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
    if len(norm) > MAX_ARTIFACT_NAME_LENGTH:
        raise InvalidArtifactName(
            f"{norm[:60]}...",
            f"it is {len(norm)} characters long and artifact names are at most "
            f"{MAX_ARTIFACT_NAME_LENGTH}; use shorter folder or file names",
        )
    for part in norm.split("/"):
        size = len(part.encode("utf-8", "surrogatepass"))
        if size > MAX_ARTIFACT_PART_BYTES:
            raise InvalidArtifactName(
                f"{norm[:60]}...",
                f"its part {part[:40]!r}... is {size} bytes and each folder or file name is "
                f"at most {MAX_ARTIFACT_PART_BYTES} bytes (the file system's limit); "
                "shorten that part",
            )
    return norm

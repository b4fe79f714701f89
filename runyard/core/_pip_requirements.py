"""pip requirements files as ``Environment.from_pip_requirements`` reads them: comments
dropped, ``-r`` includes followed, and local paths made absolute from the file's folder."""

from __future__ import annotations

import os
import re
from pathlib import Path

from runyard.exceptions import InvalidEnvironmentDefinition


def read_requirements(path: Path, seen: frozenset[Path] = frozenset()) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidEnvironmentDefinition(
            f"Requirements file {str(path)!r} does not exist; check the path (relative paths "
            f"are resolved from {os.getcwd()!r})."
        ) from None
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        include = re.match(r"^(-r|--requirement)\s*=?\s*(\S+)$", line)
        if include:
            nested = (path.parent / include.group(2)).resolve()
            if nested not in seen:
                lines.extend(read_requirements(nested, seen | {path.resolve()}))
            continue
        lines.append(_absolute_local_path(line, path.parent))
    return lines


_LOCAL_LINE = re.compile(r"^(?P<flag>(?:-e|--editable|-c|--constraint)(?:\s+|=))?(?P<target>\S+)$")
_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".zip", ".tar.bz2")


def _absolute_local_path(line: str, base: Path) -> str:
    """A local path in a requirements file (``./pkg``, ``-e ../lib``, ``dist/x.whl``,
    ``-c constraints.txt``) made absolute from the file's folder, as pip reads it: the
    environment is built elsewhere (its cache folder), where a relative path means nothing."""
    match = _LOCAL_LINE.match(line)
    if match is None:
        return line
    flag, target = match.group("flag") or "", match.group("target")
    if "://" in target or target.startswith(("git+", "-")):
        return line
    is_path = target.startswith(("./", "../", "~/")) or (
        "/" in target or target.endswith(_ARCHIVE_SUFFIXES) or flag.startswith(("-c", "--c"))
    )
    if not is_path or Path(target).is_absolute():
        return line
    return f"{flag}{(base / target).expanduser().resolve()}"

"""A job's ./logs and ./outputs into the run's files, by the agent (live and at the end).

Only what lies inside the folder is uploaded: a symbolic link out of it (``x -> /etc/passwd``,
``d -> /etc``) is left out and named once in the driver log, where the user looks. These
uploads replace a name the run has (./logs is uploaded again each time a file changes);
the user-facing ``run.upload_file`` refuses one (``run_files``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from runyard._artifact_names import check_artifact_name
from runyard._services import Services
from runyard._services.driver_log import append_driver_log
from runyard._services.run_files import folder_files, link_problem
from runyard.exceptions import InvalidArtifactName

log = logging.getLogger(__name__)

_REPORTED = (-1, -1)  # the stamp in ``seen`` of a link already named in the driver log


def upload_changed(
    services: Services, run_id: str, folder: Path, prefix: str, seen: dict[str, tuple[int, int]]
) -> None:
    """Uploads files of ``folder`` whose (mtime, size) changed since ``seen``; the links it
    cannot follow are named in the driver log (once per ``seen``)."""
    if folder.is_symlink():
        why = link_problem(folder, Path(os.path.realpath(folder.parent)))
        if why is not None:
            _report(services, run_id, seen, [("", f"is a symbolic link that {why}")], prefix)
            return
    if not folder.is_dir():
        return
    found = folder_files(folder)
    for rel, path in found.files:
        try:
            st = path.stat()
        except FileNotFoundError:  # removed by the job since the walk
            continue
        stamp = (st.st_mtime_ns, st.st_size)
        if seen.get(rel) == stamp:
            continue
        try:
            name = check_artifact_name(f"{prefix}/{rel}")
        except InvalidArtifactName as exc:
            log.warning("run %s: not uploading %s: %s", run_id, path, exc)
            continue
        try:
            services.artifacts.put_file(f"runs/{run_id}/{name}", path)
        except FileNotFoundError:
            continue
        except PermissionError as exc:
            found.skipped.append((rel, f"is a file that cannot be read ({exc.strerror})"))
            continue
        seen[rel] = stamp
    _report(services, run_id, seen, found.skipped, prefix)


def _report(
    services: Services,
    run_id: str,
    seen: dict[str, tuple[int, int]],
    skipped: list[tuple[str, str]],
    prefix: str,
) -> None:
    new = [(rel, why) for rel, why in skipped if seen.get(rel) != _REPORTED]
    if not new:
        return
    lines = []
    for rel, why in new:
        seen[rel] = _REPORTED
        shown = f"./{prefix}/{rel}" if rel else f"./{prefix}"
        lines.append(
            f"Runyard: not uploading {shown}: it {why}. Only what lies inside ./{prefix} and "
            "can be read is uploaded; copy the file there instead of linking it."
        )
    for line in lines:
        log.warning("run %s: %s", run_id, line)
    append_driver_log(services, run_id, *lines)

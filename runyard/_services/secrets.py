"""A workspace's secrets (v1's Key Vault): one 0600 file per secret under ``secrets/`` (0700).

Kept apart from run records (never in the store, a run's details or a log), and readable
without the store: a job's ``run.get_secret`` reads the file directly, as the same user.
Job side, so standard library only. Names follow Key Vault's rules, and Key Vault names are
case-insensitive: the file is named by the lower-cased name and keeps the name as given.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from runyard._config import WorkspaceLayout, make_private, make_private_dir
from runyard.exceptions import SecretNotFound, UserErrorException

NAME_RE = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
MAX_VALUE_BYTES = 25 * 1024  # Key Vault's limit on a secret's value
NOT_PROVIDED = "application/NotProvided"  # v1's KeyVaultContentType.not_provided


def check_secret_name(name: object) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise UserErrorException(
            f"Secret name {name!r} is invalid: a Key Vault secret name is 1 to 127 letters, "
            "digits and '-' (no '_', '.' or spaces). Use a name such as 'db-password'."
        )
    return name


def _check_value(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise UserErrorException(
            f"The value of secret {name!r} is a {type(value).__name__}; a secret value is a "
            "str. Pass str(value), or json.dumps(value) for structured data."
        )
    if len(value.encode("utf-8")) > MAX_VALUE_BYTES:
        raise UserErrorException(
            f"The value of secret {name!r} is {len(value.encode('utf-8'))} bytes; Key Vault "
            f"takes at most {MAX_VALUE_BYTES}. Store a smaller value (e.g. a key to a file)."
        )
    return value


def _path(layout: WorkspaceLayout, name: str) -> Path:
    return layout.secrets_dir / check_secret_name(name).lower()


def _read(layout: WorkspaceLayout, name: str) -> dict[str, str] | None:
    try:
        text = _path(layout, name).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    data: dict[str, str] = json.loads(text)
    return data


def set_secrets(
    layout: WorkspaceLayout, secrets: Mapping[str, str], *, content_type: str = NOT_PROVIDED
) -> None:
    """Adds or replaces the secrets; all are checked before any is written."""
    if not isinstance(secrets, Mapping):
        raise UserErrorException(
            f"set_secrets takes a dict of secret names to values, not a "
            f"{type(secrets).__name__}: keyvault.set_secrets({{'db-password': '...'}})."
        )
    checked = {check_secret_name(n): _check_value(n, v) for n, v in secrets.items()}
    folder = make_private_dir(layout.secrets_dir)
    make_private(folder)  # a folder someone loosened by hand is closed again
    for name, value in checked.items():
        record = {"name": name, "value": value, "content_type": content_type}
        # mkstemp is 0600; renamed over the old file so a reader sees one value or the other.
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".secret-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(record, out)
            os.replace(tmp, _path(layout, name))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def get_secret(layout: WorkspaceLayout, name: str) -> str:
    """Raises SecretNotFound."""
    record = _read(layout, name)
    if record is None:
        raise SecretNotFound(name, str(layout.root))
    return record["value"]


def get_secret_content_type(layout: WorkspaceLayout, name: str) -> str:
    record = _read(layout, name)
    if record is None:
        raise SecretNotFound(name, str(layout.root))
    return record.get("content_type", NOT_PROVIDED)


def get_secrets(layout: WorkspaceLayout, names: Iterable[str]) -> dict[str, str | None]:
    """v1's shape: every name asked for, None for those not found."""
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise UserErrorException(
            f"get_secrets takes a list of secret names, not {names!r}: "
            "get_secrets(['db-password', 'api-key'])."
        )
    wanted = [check_secret_name(n) for n in names]
    found: dict[str, str | None] = {}
    for name in wanted:
        record = _read(layout, name)
        found[name] = None if record is None else record["value"]
    return found


def list_secrets(layout: WorkspaceLayout) -> list[dict[str, str]]:
    """The names only, as v1: [{'name': ...}]."""
    if not layout.secrets_dir.is_dir():
        return []
    names = []
    for path in sorted(layout.secrets_dir.iterdir()):
        if path.name.startswith("."):
            continue  # a write in progress
        names.append({"name": json.loads(path.read_text(encoding="utf-8"))["name"]})
    return names


def delete_secrets(layout: WorkspaceLayout, names: Iterable[str]) -> None:
    """Raises SecretNotFound (naming the first missing one) before deleting any."""
    paths = [(n, _path(layout, n)) for n in names]
    for name, path in paths:
        if not path.exists():
            raise SecretNotFound(name, str(layout.root))
    for _, path in paths:
        path.unlink(missing_ok=True)

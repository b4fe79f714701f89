"""Keyvault: the secrets of a workspace (v1's ``azureml.core.keyvault.Keyvault``).

Secrets live in the workspace folder, one private file each (0600 under a 0700 folder),
apart from run records: they never reach the store, a run's details, a log or the CLI.
A submitted job reads them with ``run.get_secret(name)`` without opening the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from runyard._services import secrets as _secrets

if TYPE_CHECKING:
    from runyard.core.workspace import Workspace


class Keyvault:
    """Manages the secrets of a workspace: set, get, list and delete them.

    Names are Key Vault's: 1 to 127 letters, digits and '-', case-insensitive.

    Args:
        workspace: The workspace whose key vault this is.
    """

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    @property
    def _layout(self) -> Any:
        return self.workspace._layout

    def set_secret(self, name: str, value: str, content_type: Any = None) -> None:
        """Adds a secret, or replaces the value of one with the same name.

        Args:
            name: The secret's name.
            value: Its value (a str of at most 25 KB).
            content_type: v1's ``KeyVaultContentType`` (or its str), kept with the secret.

        Raises:
            UserErrorException: a bad name or value; nothing is stored.
        """
        kind = getattr(content_type, "value", content_type)  # an Enum member or its str
        _secrets.set_secrets(
            self._layout,
            {name: value},
            content_type=_secrets.NOT_PROVIDED if kind is None else str(kind),
        )

    def set_secrets(self, secrets_batch: Mapping[str, str]) -> None:
        """Adds the secrets of a dict of names to values (all checked before any is stored).

        Raises:
            UserErrorException: a bad name or value; nothing is stored.
        """
        _secrets.set_secrets(self._layout, secrets_batch)

    def get_secret(self, name: str) -> str:
        """The value of the secret ``name``.

        Raises:
            SecretNotFound: No such secret (the message says how to list and set them).
        """
        return _secrets.get_secret(self._layout, name)

    def get_secrets(self, secrets: Sequence[str]) -> dict[str, str | None]:
        """The values of the named secrets: ``{name: value}``, None for those not found."""
        return _secrets.get_secrets(self._layout, secrets)

    def get_secret_content_type(self, name: str) -> str:
        """The content type the secret was set with ('application/NotProvided' if none).

        Raises:
            SecretNotFound: No such secret.
        """
        return _secrets.get_secret_content_type(self._layout, name)

    def list_secrets(self) -> list[dict[str, str]]:
        """The secrets' names, as v1: ``[{'name': 'db-password'}, ...]`` (never values)."""
        return _secrets.list_secrets(self._layout)

    def delete_secret(self, name: str) -> None:
        """Deletes the secret ``name``.

        Raises:
            SecretNotFound: No such secret.
        """
        _secrets.delete_secrets(self._layout, [name])

    def delete_secrets(self, secrets: Sequence[str]) -> None:
        """Deletes the named secrets (none is deleted if one is missing).

        Raises:
            SecretNotFound: One of them does not exist.
        """
        if isinstance(secrets, str):
            secrets = [secrets]
        _secrets.delete_secrets(self._layout, secrets)

    def __repr__(self) -> str:
        return f"Keyvault(workspace={self.workspace.name!r})"

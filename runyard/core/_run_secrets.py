"""The secrets side of a Run: get_secret, get_secrets (v1's, read from the workspace's
key vault).

A mixin of ``runyard.core.run.Run``. Job side: the key vault is files in the workspace
folder, so a job reads its secrets without the store (no SQLAlchemy in a job's env).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runyard.core.experiment import Experiment


class _RunSecrets:
    if TYPE_CHECKING:  # supplied by Run

        @property
        def experiment(self) -> Experiment: ...

    def get_secret(self, name: str) -> str:
        """The value of the secret ``name`` in the run's workspace key vault.

        Raises:
            SecretNotFound: No such secret (the message says how to set it).
        """
        # late: job side; a job's Run.get_context() imports this module and must start fast
        from runyard.core.keyvault import Keyvault

        return Keyvault(self.experiment.workspace).get_secret(name)

    def get_secrets(self, secrets: Sequence[str]) -> dict[str, str | None]:
        """The values of the named secrets: ``{name: value}``, None for those not found."""
        # late: job side; a job's Run.get_context() imports this module and must start fast
        from runyard.core.keyvault import Keyvault

        return Keyvault(self.experiment.workspace).get_secrets(secrets)

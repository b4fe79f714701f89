"""What the SqlStore mixins need from SqlStore: its read and write sessions."""

from __future__ import annotations

from contextlib import AbstractContextManager

from sqlalchemy.orm import Session


class SessionAccess:
    """Base of the SqlStore mixins; SqlStore provides the real ``_write``/``_read``."""

    def _write(self) -> AbstractContextManager[Session]:
        raise NotImplementedError

    def _read(self) -> AbstractContextManager[Session]:
        raise NotImplementedError

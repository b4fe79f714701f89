"""Key authentication of /score: the service's key hashes, re-read whenever their file
changes, so that a regenerated key works (and the old one stops) from the next request."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import time

logger = logging.getLogger(__name__)

HOW = "send 'Authorization: Bearer <key from service.get_keys()>'"
MISSING = f"Missing Authorization header: this service has key authentication on; {HOW}."
INVALID = (
    "Invalid key in the Authorization header: it matches neither of the service's keys; "
    f"{HOW} (after service.regen_key(...), the new key)."
)
UNAVAILABLE = (
    "This service cannot check keys (its key file is missing or unreadable), so it refuses "
    "every request; the service's owner fixes it by regenerating a key "
    "(service.regen_key('Primary')) or redeploying the service."
)
# A file changed twice within one timestamp tick keeps its stamp: while its mtime is this
# recent, it is read again on every request (git's "racy" rule).
_RACY_NS = 2_000_000_000
_HEX64 = re.compile("[0-9a-fA-F]{64}")


class ServiceKeys:
    """The key file ``{"auth_enabled": true, "key_sha256": ["<hex>", ...]}``.

    No file given: authentication off. A file given but missing, unreadable or malformed:
    every request is refused (fail closed).
    """

    def __init__(self, path: str | None) -> None:
        self._path = path
        self._stamp: tuple[int, int, int, int] | None = None
        self._settled = False
        self._enabled = True
        self._hashes: tuple[bytes, ...] = ()
        self._problem: str | None = None  # why the file cannot be used, for the log

    def refusal(self, authorization: bytes | None) -> str | None:
        """None if a request with this Authorization header may be served, else the 401's
        message."""
        if self._path is None:
            return None
        self._refresh()
        if self._problem is not None:
            return UNAVAILABLE
        if not self._enabled:
            return None
        if not authorization:
            return MISSING
        scheme, _, key = authorization.strip().partition(b" ")
        key = key.strip()
        if scheme.lower() != b"bearer" or not key:
            return INVALID
        presented = hashlib.sha256(key).hexdigest().encode("ascii")
        matched = False
        for stored in self._hashes:  # every hash compared, in constant time each
            matched |= hmac.compare_digest(presented, stored)
        return None if matched else INVALID

    def _refresh(self) -> None:
        assert self._path is not None
        try:
            st = os.stat(self._path)
        except OSError as exc:
            self._fail(f"cannot stat it ({exc.strerror})")
            self._stamp = None
            return
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)
        if stamp == self._stamp and self._settled:
            return
        self._stamp = stamp
        self._settled = time.time_ns() - st.st_mtime_ns > _RACY_NS
        self._read()

    def _read(self) -> None:
        assert self._path is not None
        try:
            with open(self._path, "rb") as handle:
                data = json.loads(handle.read())
        except OSError as exc:
            self._fail(f"cannot read it ({exc.strerror})")
            return
        except ValueError as exc:
            self._fail(f"it is not JSON ({exc})")
            return
        hashes = data.get("key_sha256") if isinstance(data, dict) else None
        enabled = data.get("auth_enabled", True) if isinstance(data, dict) else None
        if not isinstance(enabled, bool) or not isinstance(hashes, list):
            self._fail('it is not {"auth_enabled": <bool>, "key_sha256": [<hex>, ...]}')
            return
        if not all(isinstance(h, str) and _HEX64.fullmatch(h) for h in hashes):
            self._fail("key_sha256 holds something other than sha256 hex digests")
            return
        if enabled and not hashes:
            self._fail("auth_enabled is true but key_sha256 is empty")
            return
        self._enabled = enabled
        self._hashes = tuple(h.lower().encode("ascii") for h in hashes)
        if self._problem is not None:
            logger.info("The key file %s is usable again; key authentication resumes", self._path)
        self._problem = None

    def _fail(self, why: str) -> None:
        if self._problem != why:
            logger.error(
                "The key file %s (RUNYARD_SERVICE_AUTH) is unusable: %s; refusing every /score "
                "request with 401 until it is fixed",
                self._path,
                why,
            )
        self._problem = why
        self._hashes = ()

"""The one error a scan fails with: a kind a program can branch on and a reason a person can read."""

from __future__ import annotations

ERROR_KINDS = ("unreachable", "auth", "timeout", "tls", "refused_host", "protocol")


class ScanError(Exception):
    """A scan that could not start or could not go on.

    `kind` is one of ERROR_KINDS; `reason` is one line, safe to show and store: it names hosts
    and ports but never a password, a token or a key name.
    """

    def __init__(self, kind: str, reason: str):
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown scan error kind {kind!r}")
        self.kind = kind
        self.reason = " ".join(str(reason).split())
        super().__init__(self.reason)

    def __reduce__(self):
        # Celery and multiprocessing pickle exceptions; keep both fields across the trip.
        return (type(self), (self.kind, self.reason))


class ScanInterrupted(Exception):
    """The scan's stop check said stop while the scanner waited on a server (cancelled, or the
    run was taken from its worker). Not a failure: the scan ends as stopped, like between batches."""

"""How large a design file may be: one limit for the upload page, the API and the command line.

Reading and validating a design file costs far more than its size (a 16.8 MB file took 70 s and
822 MB), so every way in refuses a file over the limit before parsing it, reading no more than
the limit and one byte. The limit is the environment variable ADVISOR_MAX_DESIGN_BYTES; this
module needs no Django, because the linter runs without settings (advisor/lint_cli.py), and
advisor.settings reads the same variable through it.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping
from typing import BinaryIO

from advisor.core.units import format_bytes

MAX_DESIGN_BYTES_ENV = "ADVISOR_MAX_DESIGN_BYTES"
# About 2,000 namespaces, a hundred times the demo design. Parsing and validating cost about
# 100 MiB of memory per MiB of file, and importing several seconds per thousand namespaces
# (bench/import.py): at 5 MiB linting alone took 57 s and 477 MiB, beyond what a web worker may
# spend on one request.
DEFAULT_MAX_DESIGN_BYTES = 1024 * 1024


class DesignTooLarge(Exception):
    """A design file over the limit; `size` is None when only "more than the limit" is known."""

    def __init__(self, name: str, size: int | None, limit: int):
        self.name, self.size, self.limit = name, size, limit
        super().__init__(too_large_message(name, size, limit))


def max_design_bytes(environ: Mapping[str, str] | None = None) -> int:
    """The limit from the environment; ValueError with a readable message when it is not a positive integer."""
    raw = (os.environ if environ is None else environ).get(MAX_DESIGN_BYTES_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_DESIGN_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{MAX_DESIGN_BYTES_ENV}={raw!r} is not a positive number of bytes")
    return value


def human_bytes(n: int) -> str:
    """A limit or a file's size through the shared formatter, a whole figure without decimals: 3 MiB."""
    return format_bytes(n, trim=True)


def too_large_message(name: str, size: int | None, limit: int) -> str:
    how_big = f"is {human_bytes(size)} ({size:,} bytes)" if size is not None else "is larger than that"
    return (
        f"{name}: design files are limited to {human_bytes(limit)} ({limit:,} bytes, "
        f"{MAX_DESIGN_BYTES_ENV}); this one {how_big}. Split it into several files (a file may "
        "describe one team's part), or raise the limit."
    )


def read_named_file(path: str, limit: int, *, stdin: BinaryIO | None = None) -> tuple[str, bytes]:
    """(name, bytes) of a file named on a command line, "-" meaning standard input, within `limit`.
    Raises OSError when it cannot be read and DesignTooLarge when it is too large."""
    if path == "-":
        return "<stdin>", read_design_bytes(stdin or sys.stdin.buffer, "<stdin>", limit)
    with open(path, "rb") as fh:
        return path, read_design_bytes(fh, path, limit)


def read_design_bytes(fh: BinaryIO, name: str, limit: int) -> bytes:
    """At most `limit` bytes of an open file; DesignTooLarge, having read no more than limit + 1, when it has more."""
    try:
        st = os.fstat(fh.fileno())
    except (AttributeError, OSError, ValueError):  # an in-memory stream
        st = None
    if st is not None and stat.S_ISREG(st.st_mode) and st.st_size > limit:
        raise DesignTooLarge(name, st.st_size, limit)
    data = fh.read(limit + 1)  # a pipe (standard input) or a file that grew: read no further
    if len(data) > limit:
        raise DesignTooLarge(name, None, limit)
    return data

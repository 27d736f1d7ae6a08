"""The one way bytes and durations read, on pages, in the CLI, in Markdown and in e-mails.

Bytes use binary units with their IEC names (1 KiB = 1,024 bytes): Redis reports memory in bytes and
the sizing model counts in powers of two, so "GB" for 2^30 bytes would be a different number than
the one it names. Durations read in days, hours, minutes and seconds ("1 d 6 h"), not raw seconds.

Django-free: the domain core, the CLI and the templates' filters all call these.
"""

from __future__ import annotations

import math

KIB = 2**10
MIB = 2**20
GIB = 2**30
TIB = 2**40
PIB = 2**50

_BYTE_UNITS = (("PiB", PIB), ("TiB", TIB), ("GiB", GIB), ("MiB", MIB), ("KiB", KIB))

_DURATION_UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def format_bytes(n: float | None, *, digits: int = 1, missing: str = "—", trim: bool = False) -> str:
    """`n` bytes in the largest binary unit that keeps the number at one or more.

    512 → "512 B", 1,536 → "1.5 KiB", 65,610,000,000 → "61.1 GiB". Below 1 KiB the count is exact.
    `missing` stands for None (an unknown size). `trim` drops the decimals of a figure that is
    exactly whole in its unit (3 MiB, not 3.0 MiB), as a limit someone set reads.
    """
    if n is None:
        return missing
    n = float(n)
    if math.isnan(n) or math.isinf(n):
        return missing
    sign = "-" if n < 0 else ""
    size = abs(n)
    for unit, factor in _BYTE_UNITS:
        # Compare the rounded figure, so that 1,048,575 bytes reads "1.0 MiB", not "1,024.0 KiB";
        # under 1 KiB the count of bytes is whole and exact (1,023 B).
        if size >= factor or (factor > KIB and round(size / factor, digits) >= 1):
            figure = size / factor
            shown = 0 if trim and figure.is_integer() else digits
            return f"{sign}{figure:,.{shown}f} {unit}"
    return f"{sign}{size:,.0f} B"


def format_gb(value: float | None, *, missing: str = "—") -> str:
    """A memory size in GB as Azure's catalog and the design file give it: 12 → "12 GB", 0.5 → "0.5 GB".

    A label in the unit the figure was published in (an Azure size, `memory_gb`), never a count of
    bytes converted: those read through `format_bytes`.
    """
    if value is None:
        return missing
    return f"{value:g} GB"


def format_duration(seconds: float | None, *, parts: int | None = 2, missing: str = "—") -> str:
    """`seconds` in days, hours, minutes and seconds: 42 → "42 s", 300 → "5 min", 111,230 → "1 d 7 h".

    `parts` is how many units, counting down from the largest, are shown: the figure is rounded to
    the smallest of them (and a unit that comes out zero is left out, so 172,800 reads "2 d").
    `parts=None` shows every unit down to the second, exactly: 3,700 → "1 h 1 min 40 s".
    Under a minute a fraction of a second is kept to one decimal (2.35 → "2.4 s").
    """
    if seconds is None:
        return missing
    seconds = float(seconds)
    if math.isnan(seconds) or math.isinf(seconds):
        return missing
    if seconds < 0:
        return "-" + format_duration(-seconds, parts=parts, missing=missing)
    if seconds < 60 and not seconds.is_integer() and round(seconds, 1) < 60:
        return f"{seconds:.1f} s"
    total = round(seconds)
    if total == 0:
        return "0 s"
    if parts is not None:
        if parts < 1:
            raise ValueError("parts must be at least 1")
        largest = next(i for i, (_, size) in enumerate(_DURATION_UNITS) if total >= size)
        step = _DURATION_UNITS[min(largest + parts - 1, len(_DURATION_UNITS) - 1)][1]
        total = int(math.floor(total / step + 0.5)) * step  # half up, as people round
    out = []
    for unit, size in _DURATION_UNITS:
        count, total = divmod(total, size)
        if count:
            out.append(f"{count:,} {unit}" if unit == "d" else f"{count} {unit}")
    return " ".join(out)

"""The one formatter for bytes (binary units, IEC names) and the one for durations."""

import math

import pytest

from advisor.core.units import GIB, KIB, MIB, PIB, TIB, format_bytes, format_duration, format_gb


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "0 B"),
        (1, "1 B"),
        (512, "512 B"),
        (1023, "1,023 B"),  # under 1 KiB: exact, from below the boundary
        (KIB, "1.0 KiB"),  # at the boundary
        (1536, "1.5 KiB"),
        (MIB - 1, "1.0 MiB"),  # would round to "1,024.0 KiB": the next unit instead
        (MIB - 52 * KIB, "972.0 KiB"),
        (MIB, "1.0 MiB"),
        (150 * MIB, "150.0 MiB"),
        (GIB - 1, "1.0 GiB"),
        (GIB, "1.0 GiB"),
        (65_610_000_000, "61.1 GiB"),  # the review's "61.1 GB" is GiB
        (62_543.8 * MIB, "61.1 GiB"),  # ... and the Markdown's 62,543.8 MiB is the same size
        (TIB, "1.0 TiB"),
        (PIB, "1.0 PiB"),
        (1024 * PIB, "1,024.0 PiB"),  # no unit above PiB
        (-2048, "-2.0 KiB"),
        (12.7, "13 B"),
        (None, "—"),
        (math.nan, "—"),
    ],
)
def test_format_bytes(n, expected):
    assert format_bytes(n) == expected


def test_format_bytes_digits_and_missing():
    assert format_bytes(1.2345 * GIB, digits=2) == "1.23 GiB"
    assert format_bytes(None, missing="?") == "?"


def test_format_bytes_trim_drops_the_decimals_of_a_whole_figure_only():
    assert format_bytes(3 * MIB, trim=True) == "3 MiB"
    assert format_bytes(100_000, trim=True) == "97.7 KiB"
    assert format_bytes(MIB - 1, trim=True) == "1.0 MiB"  # rounded to one, not exactly one
    assert format_bytes(512, trim=True) == "512 B"


def test_the_upload_limit_reads_through_the_shared_formatter():
    from advisor.limits import human_bytes

    assert human_bytes(MIB) == "1 MiB"
    assert human_bytes(100_000) == format_bytes(100_000) == "97.7 KiB"


@pytest.mark.parametrize(
    ("gb", "expected"),
    [(12, "12 GB"), (12.0, "12 GB"), (0.5, "0.5 GB"), (4500, "4500 GB"), (0.001, "0.001 GB"), (None, "—")],
)
def test_format_gb_writes_the_figure_as_azure_publishes_it(gb, expected):
    assert format_gb(gb) == expected


def test_format_gb_missing():
    assert format_gb(None, missing="?") == "?"


def test_format_bytes_never_uses_decimal_or_ambiguous_unit_names():
    for exponent in range(0, 60, 3):
        text = format_bytes(2**exponent + 7)
        assert text.split()[-1] in {"B", "KiB", "MiB", "GiB", "TiB", "PiB"}, text


@pytest.mark.parametrize(
    ("seconds", "expected", "exact"),
    [
        (0, "0 s", "0 s"),
        (0.4, "0.4 s", "0.4 s"),
        (2.35, "2.4 s", "2.4 s"),
        (42, "42 s", "42 s"),
        (59, "59 s", "59 s"),
        (59.96, "1 min", "1 min"),  # rounds up across the boundary
        (60, "1 min", "1 min"),
        (61, "1 min 1 s", "1 min 1 s"),
        (300, "5 min", "5 min"),
        (3599, "59 min 59 s", "59 min 59 s"),
        (3600, "1 h", "1 h"),
        (3629, "1 h", "1 h 29 s"),  # two units: rounded to the minute
        (3630, "1 h 1 min", "1 h 30 s"),  # half up
        (3700, "1 h 2 min", "1 h 1 min 40 s"),
        (86399, "1 d", "23 h 59 min 59 s"),
        (86400, "1 d", "1 d"),
        (90000, "1 d 1 h", "1 d 1 h"),
        (111_230, "1 d 7 h", "1 d 6 h 53 min 50 s"),  # the TTLs that showed as "111230 / 174983 s"
        (174_983, "2 d 1 h", "2 d 36 min 23 s"),
        (172_800, "2 d", "2 d"),  # a zero unit is left out
        (400 * 86400, "400 d", "400 d"),
        (10_000 * 86400, "10,000 d", "10,000 d"),
        (-60, "-1 min", "-1 min"),
        (None, "—", "—"),
    ],
)
def test_format_duration(seconds, expected, exact):
    assert format_duration(seconds) == expected
    assert format_duration(seconds, parts=None) == exact


def test_format_duration_parts():
    assert format_duration(111_230, parts=1) == "1 d"
    assert format_duration(111_230, parts=3) == "1 d 6 h 54 min"
    assert format_duration(111_230, parts=4) == "1 d 6 h 53 min 50 s"
    assert format_duration(None, missing="?") == "?"
    with pytest.raises(ValueError, match="at least 1"):
        format_duration(10, parts=0)


def test_the_scan_report_on_a_terminal_uses_the_same_units():
    from advisor.scans.report_text import render_scan_text

    report = {
        "instance": "prod-shop-cache",
        "complete": True,
        "keys_scanned": 1000,
        "duration_s": 1.5,
        "server": {"redis_version": "7.4.0", "used_memory": 65_610_000_000},
        "namespaces": [
            {
                "name": "sessions",
                "keys": 1000,
                "without_ttl": 0,
                "memory_bytes": 1536,
                "ttl_seconds": {"p50": 111_230, "max": 174_983},
            }
        ],
    }
    text = render_scan_text(report)
    assert "used memory 61.1 GiB" in text
    assert "1,000 keys in 1.5 s, complete" in text
    (row,) = [line for line in text.splitlines() if line.startswith("sessions")]
    assert row.endswith("1.5 KiB  1 d 7 h / 2 d 1 h")
    assert "111230" not in text and " s\n" not in text

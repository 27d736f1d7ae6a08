"""Personal data in key names: finding it (DRF006) and masking it in every example a report shows.

Detected kinds: an e-mail address, a phone number in international format (`+` and 8 to 15
digits), a Luhn-valid card number of 13 to 19 digits (leading digit 2 to 6, the card networks'
range, so that millisecond timestamps and most numeric ids are not taken for cards) and an IPv4
address. Keys are bytes; nothing here decodes them except to display a masked example.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate, repeat
from operator import add

EMAIL = "email"
PHONE = "phone"
CARD = "card"
IPV4 = "ipv4"
KINDS = (EMAIL, PHONE, CARD, IPV4)
KIND_LABELS = {EMAIL: "e-mail address", PHONE: "phone number", CARD: "card number", IPV4: "IPv4 address"}

_OCTET = rb"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_RX = {
    # Bounded and anchored at the start of a run: an unbounded local part would make a long
    # key name cost quadratic time.
    EMAIL: re.compile(
        rb"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}\.[A-Za-z]{2,24}"
    ),
    PHONE: re.compile(rb"(?<![0-9A-Za-z+])\+[1-9](?:[ .\-]?[0-9]){7,14}(?![0-9])"),
    IPV4: re.compile(rb"(?<![0-9A-Za-z.])" + _OCTET + rb"(?:\." + _OCTET + rb"){3}(?![0-9.])"),
}
# Every digit as '0', every dot as '.', anything else as a space: where digits and dots are.
_SHAPE = bytes(0x30 if 0x30 <= b <= 0x39 else (0x2E if b == 0x2E else 0x20) for b in range(256))
_CARD_RUN = b"0" * 13
_CARD_FIRST = frozenset(b"23456")
_DIGIT_RUN = re.compile(rb"0+")
_IPV4_SHAPE = re.compile(rb"0\.0{1,3}\.0{1,3}\.0")


def luhn_ok(digits: bytes) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ch - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _spans(
    text: bytes, kinds: tuple[str, ...] = KINDS, shape: bytes | None = None
) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every piece of personal data in `text`, in order, not overlapping."""
    found: list[tuple[int, int, str]] = []
    for kind in kinds:
        if kind == CARD:
            # Card numbers are whole digit runs: find the runs in the digit shape (a fast literal
            # search), and check only those, instead of running a regex over every byte.
            if shape is None:
                shape = text.translate(_SHAPE)
            start = shape.find(_CARD_RUN)
            while start != -1:
                end = _DIGIT_RUN.match(shape, start).end()  # the whole run of digits
                if end - start <= 19 and text[start] in _CARD_FIRST and luhn_ok(text[start:end]):
                    found.append((start, end, CARD))
                start = shape.find(_CARD_RUN, end)
            continue
        if kind == IPV4:
            if shape is None:
                shape = text.translate(_SHAPE)
            if _IPV4_SHAPE.search(shape) is None:
                continue
        for m in _RX[kind].finditer(text):
            found.append((m.start(), m.end(), kind))
    if len(found) > 1:
        found.sort()
        kept: list[tuple[int, int, str]] = []
        for span in found:
            if kept and span[0] < kept[-1][1]:
                continue  # an address inside an e-mail, digits inside a phone number...
            kept.append(span)
        found = kept
    return found


def personal_data_kinds(key: bytes | str) -> list[str]:
    """The kinds of personal data in one key name, in KINDS order."""
    if isinstance(key, str):
        key = key.encode("utf-8", "surrogateescape")
    present = {kind for _, _, kind in _spans(key)}
    return [k for k in KINDS if k in present]


def find_in_batch(keys: list[bytes]) -> list[tuple[int, str]]:
    """(index into keys, kind) for each key holding personal data; one entry per key and kind."""
    if not keys:
        return []
    blob = b"\n".join(keys)
    shape = blob.translate(_SHAPE)
    # Cheap byte tests first: most batches have no '@', no '+', no 13-digit run and no dotted quad.
    kinds = []
    if b"@" in blob:
        kinds.append(EMAIL)
    if b"+" in blob:
        kinds.append(PHONE)
    if _CARD_RUN in shape:
        kinds.append(CARD)
    if b"." in blob:
        kinds.append(IPV4)
    if not kinds:
        return []
    hits = _spans(blob, tuple(kinds), shape)
    if not hits:
        return []
    # Where each key starts in the blob; a key containing '\n' still maps right, since the
    # patterns never match across a newline and positions come from lengths, not from splitting.
    starts = list(accumulate(map(add, map(len, keys), repeat(1)), initial=0))
    out: dict[tuple[int, str], None] = {}
    for start, _end, kind in hits:
        out[(bisect_right(starts, start) - 1, kind)] = None
    return list(out)


# --------------------------------------------------------------------------------------------
# Masking


def _mask_email(text: str) -> str:
    local, _, domain = text.partition("@")
    return f"{local[:1]}***@{domain}"


def _mask_phone(text: str) -> str:
    digits = [c for c in text if c.isdigit()]
    return "+" + "".join(digits[:2]) + "***" + "".join(digits[-2:])


def _mask_card(text: str) -> str:
    return "*" * (len(text) - 4) + text[-4:]


def _mask_ipv4(text: str) -> str:
    return text.split(".", 1)[0] + ".x.x.x"


_MASKERS = {EMAIL: _mask_email, PHONE: _mask_phone, CARD: _mask_card, IPV4: _mask_ipv4}


# Segments that are probably secrets or identifiers of people (session ids, reset tokens,
# digests, long numbers such as phone numbers without a '+'): shown only by their first bytes.
_TOKEN_SEGMENT = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|(?=[A-Za-z_\-]*[0-9])(?=[0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{16,}={0,2}"
)
_LONG_NUMBER = re.compile(r"[0-9]{9,}")


def _mask_segment(segment: str) -> str:
    """Mask what the detectors leave: any segment with an '@', tokens, long numbers."""
    if "@" in segment:
        local, _, domain = segment.rpartition("@")
        return f"{local[:1]}***@{domain}"
    if _TOKEN_SEGMENT.fullmatch(segment):
        return f"{segment[:4]}…"
    if _LONG_NUMBER.fullmatch(segment):
        return f"{segment[:2]}***{segment[-2:]}"
    return segment


def display_key(key: bytes | str) -> str:
    """A key as text: UTF-8 where it is, `\\xNN` escapes where it is not."""
    if isinstance(key, str):
        return key
    return key.decode("utf-8", "backslashreplace")


def mask_key(key: bytes | str, *, max_chars: int = 160) -> str:
    """A key safe to show: personal data masked (`u***@example.com`), long names shortened."""
    raw = key.encode("utf-8", "surrogateescape") if isinstance(key, str) else key
    spans = _spans(raw)
    parts: list[str] = []
    pos = 0
    for start, end, kind in spans:
        parts.append(display_key(raw[pos:start]))
        parts.append(_MASKERS[kind](raw[start:end].decode("ascii", "replace")))
        pos = end
    parts.append(display_key(raw[pos:]))
    text = ":".join(_mask_segment(segment) for segment in "".join(parts).split(":"))
    if len(text) > max_chars:
        text = f"{text[:max_chars]}… ({len(raw)} bytes)"
    return text

"""What a team can be told, as one shape every channel renders: `Event`.

An event carries a title, a few lines of plain text, a link into the advisor, facts (name, value)
and structured `data` for machines (the JSON webhook sends it as is). `payload` is what is stored
with each delivery and what the formats in `formats.py` read; it never holds a secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils import timezone

SCAN_NEW_HIGH_DRIFT = "scan.new_high_drift"
SCAN_FAILED = "scan.failed"
REVIEW_SUBMITTED = "review.submitted"
REVIEW_CHANGES_REQUESTED = "review.changes_requested"
REVIEW_APPROVED = "review.approved"
WAIVER_EXPIRING = "waiver.expiring"
INSTANCE_RETIRING = "instance.retiring"
TEST = "test"  # the "Send test" button; always delivered, never chosen

EVENT_CHOICES = [
    (SCAN_NEW_HIGH_DRIFT, "A scan finds new high drift"),
    (SCAN_FAILED, "A scan fails"),
    (REVIEW_SUBMITTED, "A review is submitted"),
    (REVIEW_CHANGES_REQUESTED, "Changes are requested on a review"),
    (REVIEW_APPROVED, "A review is approved"),
    (WAIVER_EXPIRING, "A waiver expires within 14 days"),
    (INSTANCE_RETIRING, "An instance is within 180 days of retirement"),
]
EVENT_KINDS = [kind for kind, _ in EVENT_CHOICES]

# How far ahead the daily job looks for expiring waivers (the retirement horizon is the platform
# catalog's RETIREMENT_WARNING_DAYS, the same step at which INS001 turns high).
WAIVER_NOTICE_DAYS = 14


@dataclass(frozen=True)
class Event:
    kind: str
    title: str
    text: str  # plain text, a few lines
    url: str  # where to look in the advisor
    facts: tuple[tuple[str, str], ...] = ()
    data: dict = field(default_factory=dict)
    # One delivery per channel for the same key (a scan run, a waiver's expiry date...); "" always sends.
    dedupe_key: str = ""

    def payload(self, team: str) -> dict:
        return {
            "event": self.kind,
            "team": team,
            "title": self.title,
            "text": self.text,
            "url": self.url,
            "facts": [{"name": name, "value": value} for name, value in self.facts],
            "data": self.data,
            "occurred_at": timezone.now().isoformat(),
        }

"""What the audit trail records of a review and of a waiver request (before/after dicts)."""

from __future__ import annotations

from .models import Review, WaiverRequest


def review_record(review: Review) -> dict:
    return {
        "team": review.team.name,
        "revision": review.number,
        "state": review.state,
        "content_hash": review.content_hash,
        "namespaces": review.namespace_names(),
        "submitted_by": review.submitted_by.get_username() if review.submitted_by else None,
        "decided_by": review.decided_by.get_username() if review.decided_by else None,
    }


def request_record(wr: WaiverRequest) -> dict:
    return {
        "rule": wr.rule,
        "target": wr.target,
        "reason": wr.reason,
        "expires": wr.expires.isoformat(),
        "state": wr.state,
        "review": wr.review.number if wr.review_id else None,
        "requested_by": wr.requested_by.get_username() if wr.requested_by else None,
        "decided_by": wr.decided_by.get_username() if wr.decided_by else None,
    }

"""The reviews app's services, in one import: the workflow, waiver requests and what a review shows.

Each concern lives in its own module (`states`, `workflow`, `waivers`, `team_design`, `diff`,
`drift`, `notify`, `trail`); views, the API and tests call them through this module.
"""

from advisor.registry.models import WAIVER_MAX_DAYS

from .diff import Diff, NamespaceChange, review_diff, revision_diff, snapshot_diff
from .drift import blocking_drift, drift_findings, drift_targets
from .states import (
    BLOCKING,
    TRANSITIONS,
    ReviewError,
    StaleRevision,
    SubmissionBlocked,
    TransitionNotAllowed,
    allowed,
    target_state,
)
from .team_design import (
    TeamStatus,
    blocking_findings,
    content_hash,
    snapshot_drift,
    team_content_hashes,
    team_findings,
    team_revisions,
    team_sizing,
    team_snapshot,
    team_status,
    team_stored_findings,
)
from .waivers import WaiverAsk, carried_requests, waiver_request_create, waiver_request_decide
from .workflow import (
    review_approve,
    review_comment,
    review_request_changes,
    review_start_draft,
    review_submit,
)

__all__ = [
    "BLOCKING",
    "TRANSITIONS",
    "WAIVER_MAX_DAYS",
    "Diff",
    "NamespaceChange",
    "ReviewError",
    "StaleRevision",
    "SubmissionBlocked",
    "TeamStatus",
    "TransitionNotAllowed",
    "WaiverAsk",
    "allowed",
    "blocking_drift",
    "blocking_findings",
    "carried_requests",
    "content_hash",
    "drift_findings",
    "drift_targets",
    "review_approve",
    "review_comment",
    "review_diff",
    "review_request_changes",
    "review_start_draft",
    "review_submit",
    "revision_diff",
    "snapshot_diff",
    "snapshot_drift",
    "target_state",
    "team_content_hashes",
    "team_findings",
    "team_revisions",
    "team_sizing",
    "team_snapshot",
    "team_status",
    "team_stored_findings",
    "waiver_request_create",
    "waiver_request_decide",
]

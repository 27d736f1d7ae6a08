"""The review state machine: every legal and illegal transition, the submission gate, waiver
requests, self-approval and the stale-approval race."""

import datetime as dt
import threading

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.utils import timezone

from advisor.registry.models import Namespace, Team, Waiver
from advisor.reviews import services, workflow
from advisor.reviews.models import Review, ReviewState, WaiverRequest, WaiverRequestState

pytestmark = pytest.mark.django_db

S = ReviewState
ALL_STATES = [s.value for s in ReviewState]


@pytest.fixture
def catalog(member):
    return Team.objects.get(name="catalog")


@pytest.fixture
def second_reviewer(db, django_user_model):
    user = django_user_model.objects.create_user("rob-reviewer", password="pw-rob", email="rob@example.com")
    user.groups.add(Group.objects.get_or_create(name="reviewers")[0])
    return user


def _asks(team, *, days=60):
    """A waiver request for every blocking finding of the team's current design."""
    expires = timezone.localdate() + dt.timedelta(days=days)
    return [
        services.WaiverAsk(f.rule, f.target, f"Accepted risk for {f.rule}", expires)
        for f in services.blocking_findings(services.team_findings(team))
    ]


def _submit(team, user):
    return services.review_submit(team=team, user=user, waivers=_asks(team))


def _fix_catalog():
    """Fix the catalog team's high findings in the registry (TTL001, VAL001)."""
    Namespace.objects.filter(name="search-results").update(
        ttl_mode="absolute", ttl_seconds=600, ttl_jitter_seconds=60
    )
    Namespace.objects.filter(name="rendered-pages").update(value_bytes_typical=16384, value_bytes_max=65536)


def _in_state(team, state, *, submitter):
    """A review of the team in `state`, as the workflow would have left it."""
    snapshot = services.team_snapshot(team)
    return Review.objects.create(
        team=team,
        number=(Review.objects.filter(team=team).count() + 1),
        state=state,
        snapshot=snapshot,
        content_hash=services.content_hash(snapshot),
        findings=[f.model_dump(mode="json") for f in services.team_findings(team)],
        submitted_by=submitter if state != S.DRAFT else None,
    )


# The submission gate ---------------------------------------------------------------------------


def test_it_refuses_a_submission_with_unwaived_high_findings(catalog, member):
    with pytest.raises(services.SubmissionBlocked) as exc:
        services.review_submit(team=catalog, user=member)
    assert {(f.rule, f.target) for f in exc.value.findings} == {
        ("TTL001", "namespace:search-results"),
        ("VAL001", "namespace:rendered-pages"),
    }
    assert "waiver request" in str(exc.value)
    assert not Review.objects.exists()  # nothing half-made stays behind


def test_it_refuses_a_submission_that_waives_only_some_blocking_findings(catalog, member):
    asks = _asks(catalog)[:1]
    with pytest.raises(services.SubmissionBlocked) as exc:
        services.review_submit(team=catalog, user=member, waivers=asks)
    assert len(exc.value.findings) == 1


@pytest.mark.parametrize(
    "reason, days, message",
    [("", 30, "needs a reason"), ("ok", 0, "future"), ("ok", -3, "future"), ("ok", 400, "at most")],
)
def test_it_refuses_waiver_requests_without_reason_or_sensible_expiry(catalog, member, reason, days, message):
    asks = [
        services.WaiverAsk(a.rule, a.target, reason, timezone.localdate() + dt.timedelta(days=days))
        for a in _asks(catalog)
    ]
    with pytest.raises(services.ReviewError, match=message):
        services.review_submit(team=catalog, user=member, waivers=asks)


def test_it_refuses_a_waiver_request_for_a_finding_that_does_not_exist(catalog, member):
    asks = [
        *_asks(catalog),
        services.WaiverAsk(
            "KEY003", "namespace:product-cache", "why", timezone.localdate() + dt.timedelta(days=9)
        ),
    ]
    with pytest.raises(services.ReviewError, match="no finding KEY003"):
        services.review_submit(team=catalog, user=member, waivers=asks)


def test_it_submits_with_waiver_requests_and_tells_the_reviewers(
    catalog, member, reviewer, django_capture_on_commit_callbacks
):
    reviewer.email = "rita@example.com"
    reviewer.save()
    with django_capture_on_commit_callbacks(execute=True):
        review = _submit(catalog, member)
    assert review.state == S.IN_REVIEW
    assert review.number == 1 and review.submitted_by == member and review.base is None
    assert review.content_hash == services.content_hash(services.team_snapshot(catalog))
    assert [ns["name"] for ns in review.snapshot] == sorted(
        Namespace.objects.filter(team=catalog).values_list("name", flat=True)
    )
    assert {f["rule"] for f in review.findings} >= {"TTL001", "VAL001"}
    assert review.sizing["total_bytes"] > 0
    requests = list(review.waiver_requests.all())
    assert {(w.rule, w.state) for w in requests} == {("TTL001", "pending"), ("VAL001", "pending")}
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["rita@example.com"] and "Review requested" in mail.outbox[0].subject


def test_it_submits_without_waivers_once_the_findings_are_fixed(catalog, member):
    _fix_catalog()
    review = services.review_submit(team=catalog, user=member)
    assert review.state == S.IN_REVIEW and not review.waiver_requests.exists()


def test_only_team_members_submit(catalog, other_member, reviewer, viewer, admin_user):
    for user in (other_member, reviewer, viewer, admin_user):
        with pytest.raises(PermissionDenied):
            services.review_submit(team=catalog, user=user, waivers=_asks(catalog))


# The transition table --------------------------------------------------------------------------

LEGAL = {
    ("submit", S.DRAFT): S.IN_REVIEW,
    ("submit", S.IN_REVIEW): S.IN_REVIEW,
    ("submit", S.CHANGES_REQUESTED): S.IN_REVIEW,
    ("replace", S.IN_REVIEW): S.WITHDRAWN,
    ("replace", S.CHANGES_REQUESTED): S.CHANGES_REQUESTED,
    ("request_changes", S.IN_REVIEW): S.CHANGES_REQUESTED,
    ("approve", S.IN_REVIEW): S.APPROVED,
    ("supersede", S.APPROVED): S.SUPERSEDED,
}


def test_the_transition_table_is_exactly_the_documented_one():
    table = {(action, frm): to for action, moves in services.TRANSITIONS.items() for frm, to in moves.items()}
    assert table == LEGAL


@pytest.mark.parametrize("state", ALL_STATES)
@pytest.mark.parametrize("action", ["approve", "request_changes"])
def test_decisions_from_every_state(catalog, member, reviewer, action, state):
    review = _in_state(catalog, state, submitter=member)
    call = services.review_approve if action == "approve" else services.review_request_changes
    kwargs = {"comment": "Please fix the TTL."}
    if (action, state) in LEGAL:
        decided = call(review=review, user=reviewer, expected_hash=review.content_hash, **kwargs)
        assert decided.state == LEGAL[(action, state)]
        assert decided.decided_by == reviewer and decided.decided_at is not None
    else:
        with pytest.raises(services.TransitionNotAllowed):
            call(review=review, user=reviewer, expected_hash=review.content_hash, **kwargs)
        review.refresh_from_db()
        assert review.state == state


def test_submitting_a_draft_puts_that_revision_in_review(catalog, member):
    review = _in_state(catalog, S.DRAFT, submitter=member)
    submitted = _submit(catalog, member)
    assert submitted.pk == review.pk and submitted.state == S.IN_REVIEW and submitted.previous is None


@pytest.mark.parametrize(
    "state, kept_as", [(S.IN_REVIEW, S.WITHDRAWN), (S.CHANGES_REQUESTED, S.CHANGES_REQUESTED)]
)
def test_resubmitting_creates_the_next_revision_and_keeps_the_earlier_one(catalog, member, state, kept_as):
    earlier = _in_state(catalog, state, submitter=member)
    before = (earlier.content_hash, earlier.submitted_by_id, list(earlier.snapshot))
    Namespace.objects.filter(name="product-cache").update(cardinality=650000)
    submitted = _submit(catalog, member)
    earlier.refresh_from_db()
    assert submitted.pk != earlier.pk and submitted.number == earlier.number + 1
    assert submitted.state == S.IN_REVIEW and submitted.previous_id == earlier.pk
    assert submitted.content_hash != earlier.content_hash
    # The earlier revision is readable exactly as it was, only marked as replaced.
    assert earlier.state == kept_as and earlier.replaced_at is not None
    assert (earlier.content_hash, earlier.submitted_by_id, earlier.snapshot) == before
    assert services.team_status(catalog).open.pk == submitted.pk
    assert [r.number for r in services.team_revisions(catalog)] == [submitted.number, earlier.number]
    diff = services.revision_diff(submitted)
    assert diff.changed[0].fields == [("cardinality", 500000, 650000)]
    with pytest.raises(services.StaleRevision, match="resubmitted it as revision 2"):
        services.target_state("approve", earlier)


@pytest.mark.parametrize("state", [S.APPROVED, S.SUPERSEDED])
def test_a_decided_revision_is_never_resubmitted_a_new_draft_starts_instead(catalog, member, state):
    old = _in_state(catalog, state, submitter=member)
    new = _submit(catalog, member)
    old.refresh_from_db()
    assert old.state == state and new.pk != old.pk and new.number == old.number + 1
    with pytest.raises(services.TransitionNotAllowed):
        services.target_state("submit", old)


@pytest.mark.parametrize("state", [s for s in ALL_STATES if s != S.APPROVED])
def test_only_approved_revisions_are_superseded(catalog, member, state):
    review = _in_state(catalog, state, submitter=member)
    with pytest.raises(services.TransitionNotAllowed):
        services.target_state("supersede", review)


def test_one_open_revision_per_team(catalog, member):
    first = services.review_start_draft(team=catalog, user=member)
    assert services.review_start_draft(team=catalog, user=member).pk == first.pk
    assert first.state == S.DRAFT


# Who decides -----------------------------------------------------------------------------------


def test_nobody_approves_their_own_submission(catalog, member, reviewer):
    catalog.members.add(reviewer)  # an architect who is also in the team
    review = _submit(catalog, reviewer)
    with pytest.raises(PermissionDenied, match="own submission"):
        services.review_approve(review=review, user=reviewer, expected_hash=review.content_hash)
    with pytest.raises(PermissionDenied):
        services.review_request_changes(
            review=review, user=reviewer, expected_hash=review.content_hash, comment="x"
        )
    review.refresh_from_db()
    assert review.state == S.IN_REVIEW


@pytest.mark.parametrize("persona", ["member", "other_member", "viewer"])
def test_only_reviewers_decide(catalog, member, request, persona):
    review = _submit(catalog, member)
    user = request.getfixturevalue(persona)
    with pytest.raises(PermissionDenied):
        services.review_approve(review=review, user=user, expected_hash=review.content_hash)
    with pytest.raises(PermissionDenied):
        services.review_request_changes(
            review=review, user=user, expected_hash=review.content_hash, comment="x"
        )


def test_admins_decide_as_reviewers(catalog, member, admin_user):
    review = _submit(catalog, member)
    assert (
        services.review_approve(review=review, user=admin_user, expected_hash=review.content_hash).state
        == S.APPROVED
    )


# Decisions -------------------------------------------------------------------------------------


def test_request_changes_needs_a_comment_and_tells_the_team(
    catalog, member, reviewer, django_capture_on_commit_callbacks
):
    member.email = "mia@example.com"
    member.save()
    review = _submit(catalog, member)
    with pytest.raises(services.ReviewError, match="comment is required"):
        services.review_request_changes(
            review=review, user=reviewer, expected_hash=review.content_hash, comment=" "
        )
    with django_capture_on_commit_callbacks(execute=True):
        review = services.review_request_changes(
            review=review,
            user=reviewer,
            expected_hash=review.content_hash,
            comment="Give search-results a TTL.",
        )
    assert review.state == S.CHANGES_REQUESTED
    assert review.comments.get().body == "Give search-results a TTL."
    assert mail.outbox[-1].subject.startswith("[Redis key advisor] Changes requested")
    assert set(mail.outbox[-1].to) == {"catalog-team@contoso.example", "mia@example.com"}


def test_approval_turns_waiver_requests_into_waivers(
    catalog, member, reviewer, django_capture_on_commit_callbacks
):
    assert Waiver.objects.get(rule="TTL001", target="namespace:search-results").expires < timezone.localdate()
    review = _submit(catalog, member)
    with django_capture_on_commit_callbacks(execute=True):
        services.review_approve(
            review=review, user=reviewer, expected_hash=review.content_hash, comment="Fine for now."
        )
    review.refresh_from_db()
    assert review.state == S.APPROVED and review.decided_by == reviewer
    assert set(review.waiver_requests.values_list("state", flat=True)) == {WaiverRequestState.APPROVED}
    for wr in review.waiver_requests.all():
        waiver = Waiver.objects.get(rule=wr.rule, target=wr.target)
        assert (
            waiver.approved_by == reviewer.username
            and waiver.expires == wr.expires
            and waiver.reason == wr.reason
        )
    # The team's findings are now waived, so the design would pass the gate on its own.
    assert not services.blocking_findings(services.team_findings(catalog))
    assert "Approved" in mail.outbox[-1].subject


def test_rejecting_a_blocking_waiver_refuses_the_approval(catalog, member, reviewer):
    review = _submit(catalog, member)
    ttl = review.waiver_requests.get(rule="TTL001")
    with pytest.raises(services.ReviewError, match="request changes instead"):
        services.review_approve(
            review=review, user=reviewer, expected_hash=review.content_hash, rejected_waivers=[ttl.pk]
        )
    review.refresh_from_db()
    assert (
        review.state == S.IN_REVIEW
        and ttl.__class__.objects.get(pk=ttl.pk).state == WaiverRequestState.PENDING
    )


def test_request_changes_can_reject_waivers(catalog, member, reviewer):
    review = _submit(catalog, member)
    ttl = review.waiver_requests.get(rule="TTL001")
    services.review_request_changes(
        review=review,
        user=reviewer,
        expected_hash=review.content_hash,
        comment="No waiver for TTL001.",
        rejected_waivers=[ttl.pk],
    )
    ttl.refresh_from_db()
    assert ttl.state == WaiverRequestState.REJECTED and ttl.decided_by == reviewer
    assert not Waiver.objects.filter(
        rule="TTL001", target="namespace:search-results", approved_by=reviewer.username
    ).exists()


def test_the_whole_cycle_and_superseding(catalog, member, reviewer):
    first = _submit(catalog, member)
    services.review_request_changes(
        review=first, user=reviewer, expected_hash=first.content_hash, comment="Fix it."
    )
    _fix_catalog()
    again = services.review_submit(team=catalog, user=member)
    assert again.number == 2 and again.state == S.IN_REVIEW and again.content_hash != first.content_hash
    # Revision 1 stays as it was decided; its undecided requests are withdrawn, and the fixed
    # design needs none, so none is carried over.
    first.refresh_from_db()
    assert first.state == S.CHANGES_REQUESTED and first.comments.get().body == "Fix it."
    assert set(first.waiver_requests.values_list("state", flat=True)) == {"withdrawn"}
    assert not again.waiver_requests.exists()
    approved = services.review_approve(review=again, user=reviewer, expected_hash=again.content_hash)
    assert services.team_status(catalog).label == "approved (revision 2)"

    # Editing an approved design starts a new draft; the approval stays valid until the next one.
    Namespace.objects.filter(name="product-cache").update(cardinality=600000)
    status = services.team_status(catalog)
    assert status.label == "draft (changes since approved revision 2)" and status.approved.pk == approved.pk
    second = services.review_submit(team=catalog, user=member)
    assert second.number == 3 and second.base_id == approved.pk and second.previous_id == approved.pk
    approved.refresh_from_db()
    assert approved.state == S.APPROVED
    diff = services.review_diff(second)
    assert [c.name for c in diff.changed] == ["product-cache"]
    assert diff.changed[0].fields == [("cardinality", 500000, 600000)]

    services.review_approve(review=second, user=reviewer, expected_hash=second.content_hash)
    approved.refresh_from_db()
    assert approved.state == S.SUPERSEDED and approved.superseded_at is not None
    assert services.team_status(catalog).label == "approved (revision 3)"


# Stale approvals and concurrent reviewers -------------------------------------------------------


def test_an_approval_of_a_revision_that_changed_since_it_was_loaded_is_refused(catalog, member, reviewer):
    review = _submit(catalog, member)
    loaded_hash = review.content_hash
    Namespace.objects.filter(name="product-cache").update(cardinality=700000)
    resubmitted = services.review_submit(team=catalog, user=member, waivers=_asks(catalog))  # meanwhile
    with pytest.raises(services.StaleRevision, match="changed since you loaded it"):
        services.review_approve(
            review=Review.objects.get(pk=review.pk), user=reviewer, expected_hash=loaded_hash
        )
    review.refresh_from_db()
    assert review.state == S.WITHDRAWN and review.decided_by is None
    # A reviewer holding the withdrawn revision in memory is refused by the conditional UPDATE too.
    with pytest.raises(services.StaleRevision):
        workflow._decide(
            review=Review(pk=review.pk, team=catalog, state=S.IN_REVIEW, content_hash=loaded_hash, number=1),
            user=reviewer,
            action="approve",
            expected_hash=loaded_hash,
        )
    fresh = services.review_approve(review=resubmitted, user=reviewer, expected_hash=resubmitted.content_hash)
    assert fresh.state == S.APPROVED


def test_two_reviewers_acting_at_once_one_wins_the_other_is_told(catalog, member, reviewer, second_reviewer):
    review = _submit(catalog, member)
    # Both reviewers loaded the page: same object state, same hash.
    seen_by_rita = Review.objects.get(pk=review.pk)
    seen_by_rob = Review.objects.get(pk=review.pk)
    services.review_approve(review=seen_by_rita, user=reviewer, expected_hash=review.content_hash)
    # Rob's copy still says "in review", so only the conditional UPDATE can stop him.
    with pytest.raises(services.StaleRevision, match="already decided by rita-reviewer"):
        services.review_approve(review=seen_by_rob, user=second_reviewer, expected_hash=review.content_hash)
    with pytest.raises(services.StaleRevision, match="already decided"):
        services.review_request_changes(
            review=seen_by_rob, user=second_reviewer, expected_hash=review.content_hash, comment="no"
        )
    review.refresh_from_db()
    assert review.state == S.APPROVED and review.decided_by == reviewer
    # The waivers were created once, by the winner.
    assert set(
        Waiver.objects.filter(approved_by__in=["rita-reviewer", "rob-reviewer"]).values_list(
            "approved_by", flat=True
        )
    ) == {"rita-reviewer"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="real concurrent writers need PostgreSQL")
def test_concurrent_approvals_on_postgresql(demo_registry, member, reviewer, second_reviewer):
    catalog = Team.objects.get(name="catalog")
    review = _submit(catalog, member)
    barrier = threading.Barrier(2)
    outcomes = []

    def approve(user):
        try:
            barrier.wait()
            services.review_approve(
                review=Review.objects.get(pk=review.pk), user=user, expected_hash=review.content_hash
            )
            outcomes.append("won")
        except services.StaleRevision:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(u,)) for u in (reviewer, second_reviewer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused", "won"]


# Comments and stand-alone waiver requests ---------------------------------------------------------


def test_comments_on_the_review_and_on_a_finding(catalog, member, reviewer, viewer, other_member):
    review = _submit(catalog, member)
    services.review_comment(review=review, user=reviewer, body="Looks mostly fine.")
    c = services.review_comment(
        review=review,
        user=member,
        body="TTL coming.",
        finding_rule="TTL001",
        finding_target="namespace:search-results",
    )
    assert c.finding_key == "TTL001|namespace:search-results" and c.revision_hash == review.content_hash
    with pytest.raises(services.ReviewError, match="no finding"):
        services.review_comment(
            review=review,
            user=reviewer,
            body="?",
            finding_rule="KEY003",
            finding_target="namespace:product-cache",
        )
    for outsider in (viewer, other_member):
        with pytest.raises(PermissionDenied):
            services.review_comment(review=review, user=outsider, body="drive-by")


def test_stand_alone_waiver_requests_are_decided_by_another_reviewer(
    catalog, member, reviewer, second_reviewer
):
    catalog.members.add(reviewer)
    expires = timezone.localdate() + dt.timedelta(days=30)
    wr = services.waiver_request_create(
        team=catalog,
        user=reviewer,
        rule="TTL002",
        target="namespace:product-content",
        reason="Warm-up job spreads expiry.",
        expires=expires,
    )
    with pytest.raises(PermissionDenied, match="own waiver"):
        services.waiver_request_decide(waiver_request=wr, user=reviewer, approve=True)
    with pytest.raises(PermissionDenied):
        services.waiver_request_decide(waiver_request=wr, user=member, approve=True)
    services.waiver_request_decide(waiver_request=wr, user=second_reviewer, approve=True)
    wr.refresh_from_db()
    assert wr.state == WaiverRequestState.APPROVED
    assert Waiver.objects.get(rule="TTL002", target="namespace:product-content").approved_by == "rob-reviewer"
    with pytest.raises(services.ReviewError, match="already"):
        services.waiver_request_decide(waiver_request=wr, user=second_reviewer, approve=False)


def test_stand_alone_waiver_requests_only_for_own_team_and_real_findings(catalog, member, other_member):
    expires = timezone.localdate() + dt.timedelta(days=30)
    with pytest.raises(PermissionDenied):
        services.waiver_request_create(
            team=catalog,
            user=other_member,
            rule="TTL002",
            target="namespace:product-content",
            reason="x",
            expires=expires,
        )
    with pytest.raises(services.ReviewError, match="not one of this team"):
        services.waiver_request_create(
            team=catalog,
            user=member,
            rule="KEY003",
            target="namespace:user-by-email",
            reason="x",
            expires=expires,
        )
    with pytest.raises(services.ReviewError, match="no finding"):
        services.waiver_request_create(
            team=catalog,
            user=member,
            rule="KEY003",
            target="namespace:product-cache",
            reason="x",
            expires=expires,
        )
    assert not WaiverRequest.objects.exists()


def test_review_requests_are_decided_with_the_review_only(catalog, member, reviewer):
    review = _submit(catalog, member)
    wr = review.waiver_requests.first()
    with pytest.raises(services.ReviewError, match="decide it with the review"):
        services.waiver_request_decide(waiver_request=wr, user=reviewer, approve=True)

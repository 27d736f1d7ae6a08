"""Separation of duties: nobody decides a review or a waiver request of a team they belong to.

A reviewer who is also a member of the catalog team may comment on its review, submit it and
request waivers as any member does, but the page hides the decision buttons and says why, and the
page, the API and the service refuse the decision with a 403 and the same reason. Nothing changes
and nothing is written to the audit trail. A reviewer of another team still decides.
"""

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from advisor.accounts.models import ApiToken
from advisor.audit.models import AuditEvent
from advisor.registry import permissions
from advisor.registry.models import Team, Waiver
from advisor.reviews import services
from advisor.reviews.models import Review, ReviewState, WaiverRequest, WaiverRequestState

pytestmark = pytest.mark.django_db

REASON = "You are a member of team catalog"


def _reviewer(django_user_model, username, *, team=None, **extra):
    user = django_user_model.objects.create_user(username=username, password="pw-" + username, **extra)
    user.groups.add(Group.objects.get_or_create(name=permissions.REVIEWERS_GROUP)[0])
    if team:
        Team.objects.get(name=team).members.add(user)
    return user


@pytest.fixture
def catalog(member):
    return Team.objects.get(name="catalog")


@pytest.fixture
def member_reviewer(catalog, django_user_model):
    """In the reviewers group and a member of the catalog team (not the one who submits)."""
    return _reviewer(django_user_model, "rhea-member-reviewer", team="catalog")


@pytest.fixture
def identity_reviewer(other_member, django_user_model):
    """A reviewer who belongs to another team: catalog's reviews are theirs to decide."""
    return _reviewer(django_user_model, "ivan-identity-reviewer", team="identity")


@pytest.fixture
def submitted(catalog, member) -> Review:
    expires = timezone.localdate() + dt.timedelta(days=30)
    asks = [
        services.WaiverAsk(f.rule, f.target, "accepted for now", expires)
        for f in services.blocking_findings(services.team_findings(catalog))
    ]
    assert asks, "the demo's catalog team has blocking findings to request waivers for"
    return services.review_submit(team=catalog, user=member, waivers=asks)


@pytest.fixture
def waiver_request(catalog, member) -> WaiverRequest:
    return services.waiver_request_create(
        team=catalog,
        user=member,
        rule="TTL002",
        target="namespace:product-content",
        reason="warm-up job",
        expires=timezone.localdate() + dt.timedelta(days=20),
    )


def _auth(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(user=user, name='t')[1]}"}


def _unchanged(review: Review) -> None:
    review.refresh_from_db()
    assert review.state == ReviewState.IN_REVIEW and review.decided_by is None
    assert not review.waiver_requests.exclude(state=WaiverRequestState.PENDING).exists()
    assert not AuditEvent.objects.filter(action__in=["approve", "request_changes", "reject"]).exists()


# The rule -------------------------------------------------------------------------------------


def test_the_rule_names_the_team_and_leaves_the_other_refusals_in_place(
    submitted, waiver_request, member, member_reviewer, identity_reviewer, reviewer, viewer
):
    assert REASON in permissions.review_decision_refusal(member_reviewer, submitted)
    assert REASON in permissions.waiver_decision_refusal(member_reviewer, waiver_request)
    assert not permissions.can_review(member_reviewer, submitted)
    assert not permissions.can_decide_waiver(member_reviewer, waiver_request)
    for user in (reviewer, identity_reviewer):
        assert permissions.review_decision_refusal(user, submitted) is None
        assert permissions.waiver_decision_refusal(user, waiver_request) is None
    assert permissions.review_decision_refusal(viewer, submitted) == "Only reviewers decide reviews."
    assert (
        permissions.waiver_decision_refusal(member, waiver_request)
        == "Only reviewers decide waiver requests."
    )


def test_leaving_the_team_restores_the_right_to_decide(submitted, catalog, member_reviewer):
    catalog.members.remove(member_reviewer)
    assert permissions.can_review(member_reviewer, submitted)


def test_a_superuser_who_belongs_to_the_team_is_refused_too(submitted, waiver_request, django_user_model):
    boss = django_user_model.objects.create_user(
        username="sam-super", password="pw", is_staff=True, is_superuser=True
    )
    assert permissions.can_review(boss, submitted)
    Team.objects.get(name="catalog").members.add(boss)
    assert REASON in permissions.review_decision_refusal(boss, submitted)
    assert REASON in permissions.waiver_decision_refusal(boss, waiver_request)


# The service ----------------------------------------------------------------------------------


def test_the_service_refuses_both_decisions_and_the_waiver_request(
    submitted, waiver_request, member_reviewer
):
    with pytest.raises(PermissionDenied, match=REASON):
        services.review_approve(review=submitted, user=member_reviewer, expected_hash=submitted.content_hash)
    with pytest.raises(PermissionDenied, match=REASON):
        services.review_request_changes(
            review=submitted, user=member_reviewer, expected_hash=submitted.content_hash, comment="fix it"
        )
    with pytest.raises(PermissionDenied, match=REASON):
        services.waiver_request_decide(waiver_request=waiver_request, user=member_reviewer, approve=True)
    _unchanged(submitted)
    waiver_request.refresh_from_db()
    assert waiver_request.state == WaiverRequestState.PENDING
    assert not Waiver.objects.filter(rule="TTL002").exists()


def test_a_member_reviewer_still_comments_and_submits(catalog, member_reviewer):
    review = services.review_submit(
        team=catalog,
        user=member_reviewer,
        waivers=[
            services.WaiverAsk(f.rule, f.target, "accepted", timezone.localdate() + dt.timedelta(days=9))
            for f in services.blocking_findings(services.team_findings(catalog))
        ],
    )
    services.review_comment(review=review, user=member_reviewer, body="Submitted as a member.")
    assert review.state == ReviewState.IN_REVIEW and review.comments.count() == 1


# The pages ------------------------------------------------------------------------------------


def test_the_review_page_hides_the_decision_and_says_why(
    client, submitted, member_reviewer, identity_reviewer
):
    client.force_login(member_reviewer)
    body = client.get(f"/reviews/{submitted.pk}/").content.decode()
    assert 'id="decision"' not in body and 'id="approve-button"' not in body
    assert 'id="decision-refusal"' in body and REASON in body
    assert 'id="review-comment-body"' in body  # members comment
    client.force_login(identity_reviewer)
    body = client.get(f"/reviews/{submitted.pk}/").content.decode()
    assert 'id="decision"' in body and 'id="decision-refusal"' not in body


@pytest.mark.parametrize(
    ("action", "data"),
    [("approve", {}), ("request-changes", {"comment": "fix it"})],
    ids=["approve", "changes"],
)
def test_the_decision_pages_refuse_with_403_and_the_reason(client, submitted, member_reviewer, action, data):
    client.force_login(member_reviewer)
    url = f"/reviews/{submitted.pk}/{action}/"
    response = client.post(url, {"expected_hash": submitted.content_hash, **data})
    assert response.status_code == 403
    body = response.content.decode()
    assert 'id="refusal-reason"' in body and REASON in body
    assert f'href="/reviews/{submitted.pk}/"' in body
    # htmx does not swap a 403: the page reloads and shows the reason.
    response = client.post(url, {"expected_hash": submitted.content_hash, **data}, HTTP_HX_REQUEST="true")
    assert response.status_code == 403 and response["HX-Refresh"] == "true"
    assert REASON in response.content.decode()
    assert REASON in client.get(f"/reviews/{submitted.pk}/").content.decode()
    _unchanged(submitted)


def test_the_waiver_request_list_hides_the_buttons_and_the_page_refuses(
    client, waiver_request, member_reviewer, identity_reviewer
):
    decide = f'action="/waiver-requests/{waiver_request.pk}/decide/"'
    client.force_login(member_reviewer)
    body = client.get("/reviews/").content.decode()
    assert decide not in body and 'class="small text-secondary waiver-decision-refusal"' in body
    assert REASON in body
    response = client.post(f"/waiver-requests/{waiver_request.pk}/decide/", {"decision": "approve"})
    assert response.status_code == 403 and REASON in response.content.decode()
    waiver_request.refresh_from_db()
    assert waiver_request.state == WaiverRequestState.PENDING
    client.force_login(identity_reviewer)
    assert decide in client.get("/reviews/").content.decode()
    response = client.post(f"/waiver-requests/{waiver_request.pk}/decide/", {"decision": "reject"})
    assert response.status_code == 302
    waiver_request.refresh_from_db()
    assert waiver_request.state == WaiverRequestState.REJECTED
    assert waiver_request.decided_by == identity_reviewer


# The API --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "comment"), [("approve", ""), ("request-changes", "fix it")], ids=["approve", "changes"]
)
def test_the_api_refuses_decisions_with_403_and_the_reason(
    client, submitted, member_reviewer, action, comment
):
    response = client.post(
        f"/api/reviews/{submitted.pk}/{action}",
        {"expected_hash": submitted.content_hash, "comment": comment},
        content_type="application/json",
        **_auth(member_reviewer),
    )
    assert response.status_code == 403 and REASON in response.json()["detail"]
    _unchanged(submitted)


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_the_api_refuses_waiver_decisions_with_403_and_the_reason(
    client, waiver_request, member_reviewer, identity_reviewer, action
):
    url = f"/api/waiver-requests/{waiver_request.pk}/{action}"
    response = client.post(url, **_auth(member_reviewer))
    assert response.status_code == 403 and REASON in response.json()["detail"]
    waiver_request.refresh_from_db()
    assert waiver_request.state == WaiverRequestState.PENDING
    response = client.post(url, **_auth(identity_reviewer))
    assert response.status_code == 200 and response.json()["decided_by"] == "ivan-identity-reviewer"


def test_a_reviewer_outside_the_team_approves_after_the_refusal(
    client, submitted, member_reviewer, identity_reviewer
):
    client.force_login(member_reviewer)
    assert (
        client.post(
            f"/reviews/{submitted.pk}/approve/", {"expected_hash": submitted.content_hash}
        ).status_code
        == 403
    )
    client.force_login(identity_reviewer)
    response = client.post(f"/reviews/{submitted.pk}/approve/", {"expected_hash": submitted.content_hash})
    assert response.status_code == 302
    submitted.refresh_from_db()
    assert submitted.state == ReviewState.APPROVED and submitted.decided_by == identity_reviewer
    assert set(submitted.waiver_requests.values_list("state", flat=True)) == {WaiverRequestState.APPROVED}


def test_reviewers_of_the_team_are_not_asked_to_review_it(
    catalog, member, member_reviewer, identity_reviewer, django_capture_on_commit_callbacks
):
    from django.core import mail

    for user, email in ((member_reviewer, "rhea@example.com"), (identity_reviewer, "ivan@example.com")):
        user.email = email
        user.save()
    expires = timezone.localdate() + dt.timedelta(days=30)
    with django_capture_on_commit_callbacks(execute=True):
        services.review_submit(
            team=catalog,
            user=member,
            waivers=[
                services.WaiverAsk(f.rule, f.target, "accepted", expires)
                for f in services.blocking_findings(services.team_findings(catalog))
            ],
        )
        services.waiver_request_create(
            team=catalog,
            user=member,
            rule="TTL002",
            target="namespace:product-content",
            reason="warm-up job",
            expires=expires,
        )
    assert [m.subject.split(":")[0] for m in mail.outbox] == [
        "[Redis key advisor] Review requested",
        "[Redis key advisor] Waiver requested",
    ]
    assert all(m.to == ["ivan@example.com"] for m in mail.outbox)

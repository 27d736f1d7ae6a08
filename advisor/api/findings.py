"""/api/rules, /api/findings and /api/lint: the rule catalog, the registry's findings, and linting
a design file sent in the request body (the `lint_designs` command as a service).

Findings have the one shape of design-file.md section 4; `POST /api/lint` answers exactly the
lint JSON of section 5, the same document `lint_designs --format json` prints.
"""

import datetime as dt

from django.conf import settings
from django.http import Http404
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from advisor import limits
from advisor.core.design import DesignError, DesignIssue, load_design
from advisor.core.engine import lint_design
from advisor.core.findings import Severity
from advisor.core.rules.docs import rule_catalog, rule_doc
from advisor.findings import clock
from advisor.findings.models import DesignFinding

from .schemas import Entries, Pagination, ValidationErrors, errors

router = Router(tags=["findings"])

# What a design file may be sent as; anything else is most likely a form post by mistake.
_DESIGN_CONTENT_TYPES = {
    "application/yaml",
    "application/x-yaml",
    "text/yaml",
    "text/x-yaml",
    "text/plain",
    "application/json",
}
_TEXT = r"^[^\x00]*$"


class RuleOut(Schema):
    id: str
    title: str
    group: str
    group_title: str
    kind: str = Field(description="design: checked on designs; drift: checked on scans of live instances")
    default_severity: Severity
    thresholds: dict[str, float]
    summary: str
    documentation: str = Field(description="Markdown")


class FindingWaiverOut(Schema):
    """The waiver a finding is waived by (design-file.md, section 4)."""

    reason: str
    expires: dt.date
    approved_by: str | None = None


class FindingOut(Schema):
    rule: str
    severity: Severity
    title: str
    target: str = Field(description="namespace:NAME or instance:NAME")
    related: list[str]
    message: str
    remediation: str
    waived: bool
    waiver: FindingWaiverOut | None = None


class LintSummary(Schema):
    critical: int
    high: int
    medium: int
    low: int
    info: int
    waived: int


class LintOut(Schema):
    version: int
    today: dt.date
    summary: LintSummary
    findings: list[FindingOut]


class DesignIssueOut(Schema):
    loc: str = Field(
        description="Where in the file, e.g. namespaces[3].ttl.seconds; empty for the whole file"
    )
    message: str
    line: int | None = Field(None, description="1-based line in the file, when known")


class InvalidDesign(Schema):
    detail: str
    errors: list[DesignIssueOut]


class FindingFilters(Schema):
    severity: Severity | None = None
    rule: str | None = Field(None, max_length=16, pattern=_TEXT, description="Rule id, e.g. TTL001.")
    team: str | None = Field(None, max_length=63, pattern=_TEXT, description="Team name.")
    instance: str | None = Field(None, max_length=63, pattern=_TEXT, description="Instance name.")
    waived: bool | None = Field(None, description="Only waived (true) or only unwaived (false) findings.")


@router.get("/rules", response={200: list[RuleOut], **errors(401)})
def rule_list(request):
    return rule_catalog()


@router.get("/rules/{rule_id}", response={200: RuleOut, **errors(401, 404)})
def rule_get(request, rule_id: str):
    try:
        return rule_doc(rule_id.upper())
    except KeyError:
        raise Http404(f"no rule '{rule_id}'") from None


@router.get("/findings", response={200: list[FindingOut], **errors(401, 422)})
@paginate(Pagination)
def finding_list(request, filters: Query[FindingFilters]):
    """The stored findings: recomputed after every change and nightly, never by a read."""
    findings = DesignFinding.objects.all()
    if filters.severity:
        findings = findings.filter(severity=filters.severity.value)
    if filters.rule:
        findings = findings.filter(rule=filters.rule.upper())
    if filters.team:
        findings = findings.filter(team__name=filters.team)
    if filters.instance:
        findings = findings.filter(instance__name=filters.instance)
    if filters.waived is not None:
        findings = findings.filter(waived=filters.waived)
    return Entries(findings.order_by("-severity_rank", "rule", "target", "id"), DesignFinding.as_finding)


@router.post(
    "/lint",
    response={200: LintOut, **errors(401, 403, 413, 415), 422: InvalidDesign | ValidationErrors},
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A design file (design-file.md, section 1), as YAML or JSON text.",
            "content": {
                "application/yaml": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        }
    },
)
def lint(request, today: dt.date | None = Query(None, description="Lint as of this day (YYYY-MM-DD).")):
    """Lint a design file without storing anything.

    422 for an invalid design file lists every error of the file with its location in `errors`;
    for an invalid query parameter it is the usual list of located errors in `detail`.
    413 for a design file over ADVISOR_MAX_DESIGN_BYTES, refused before it is read.
    """
    limit = settings.ADVISOR_MAX_DESIGN_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit or len(body := request.body) > limit:
        return Status(413, {"detail": limits.too_large_message("The request body", declared or None, limit)})
    if body and request.content_type not in _DESIGN_CONTENT_TYPES:
        return Status(
            415,
            {
                "detail": "Send the design file as the request body with Content-Type application/yaml, "
                "application/json or text/plain."
            },
        )
    try:
        design = load_design(body, filename="<request body>")
    except DesignError as exc:
        return _invalid(exc.errors)
    return lint_design(design, today=today or clock.today()).to_dict()


def _invalid(issues: list[DesignIssue]):
    count = len(issues)
    return Status(
        422,
        {
            "detail": f"The design file is invalid: {count} error{'s' if count != 1 else ''}.",
            "errors": [issue.model_dump() for issue in issues],
        },
    )

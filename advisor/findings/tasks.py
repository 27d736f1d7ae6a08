"""Celery tasks: thin shells over advisor.findings.services."""

from celery import shared_task

from . import services

# The beat entry (migration 0002): daily, shortly after midnight in settings.TIME_ZONE.
NIGHTLY = "advisor: findings refresh"


@shared_task
def findings_refresh_task() -> dict:
    """Beat, shortly after midnight: the date is an input of the lint (retirement dates, waiver
    expiry), so the stored findings are recomputed for the new day; also after a change whose
    refresh failed. Unchanged findings of today are left as they are."""
    run = services.findings_ensure_fresh()
    if run is None:
        return {"status": "failed"}
    return {
        "today": run.today.isoformat(),
        "computed_at": run.computed_at.isoformat(),
        "findings": run.finding_count,
    }

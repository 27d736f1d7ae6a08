"""GET /api/instances/{name}/migration-plan: the migration plan of design-file.md section 3.

The same plan as `python manage.py plan_migration NAME --format json` and the migration page
(advisor.findings.planning). Any authenticated user may read it, as they may read the instance.
"""

import datetime as dt

from django.http import Http404
from ninja import Query, Router, Status

from advisor.core import migration
from advisor.findings import clock, planning

from .schemas import errors

router = Router(tags=["instances"])


@router.get(
    "/instances/{name}/migration-plan",
    response={200: migration.MigrationPlan, **errors(401, 404, 409, 422)},
    summary="Migration plan to Azure Managed Redis",
    description=(
        "The plan that moves an instance on a retiring Azure Cache for Redis tier to Azure Managed Redis: "
        "the memory its data needs (the sizing model, or the last completed scan's used memory), a target "
        "size that holds it, alternatives, data migration options, blockers and ordered steps. "
        "404 when there is no such instance; 409 when the instance is not on a retiring tier."
    ),
)
def migration_plan_get(
    request, name: str, today: dt.date | None = Query(None, description="Plan as of this day (YYYY-MM-DD).")
):
    try:
        instance = planning.instance_by_name(name)
    except migration.UnknownInstance:
        raise Http404(f"no instance named '{name}'") from None
    try:
        return planning.instance_migration_plan(instance, today=today or clock.today())
    except migration.NothingToMigrate as e:
        return Status(409, {"detail": str(e)})

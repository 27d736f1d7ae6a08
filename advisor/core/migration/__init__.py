"""Migration planning: from a retiring Azure Cache for Redis tier to Azure Managed Redis.

`migration_plan` builds the one plan that the `plan_migration` command, the API
(`GET /api/instances/{name}/migration-plan`) and the migration page show: the memory the data needs
(the sizing model, or what the last scan measured), a real Azure Managed Redis size that covers it,
the alternatives, how the data can move, what blocks the move, and an ordered checklist. Its JSON is
the migration plan of the design-file contract (section 3); `to_markdown()` is a change ticket and
`to_text()` the terminal view.

- `plan`: the plan's models and the errors that stop one;
- `planner`: facts (the design, the last scan) to a plan;
- `render`: the plan as Markdown and as text.
"""

from __future__ import annotations

from advisor.core.migration.plan import (
    Alternative,
    Blocker,
    DataMigration,
    MigrationPlan,
    NamespacePlan,
    Need,
    NothingToMigrate,
    PlanError,
    RetiringInstance,
    SlotPair,
    Source,
    Status,
    Step,
    Strategy,
    Target,
    UnknownInstance,
    retirement_urgency,
)
from advisor.core.migration.planner import (
    ACR,
    AMR,
    AMR_ACCESS_PERMISSIONS,
    AMR_CONFIGURE,
    AMR_HOSTNAME,
    AMR_KEYSPACE_NOTIFICATIONS,
    AMR_PRIVATE_LINK,
    BALANCED_OPS_PER_GB,
    FLASH_MAX_WRITE_SHARE,
    FLASH_MIN_VALUE_BYTES,
    FLASH_TIER,
    IN_MEMORY_TIERS,
    MEMORY_PER_VCPU,
    MICROSOFT_SIZE_MAP,
    OVERSIZE_FACTOR,
    RIOT,
    STATEFUL,
    flash_fit,
    migration_plan,
    retirement_date,
    retiring_instances,
    slot_pairs,
)
from advisor.core.migration.render import render_markdown, render_text

__all__ = [
    "ACR",
    "AMR",
    "AMR_ACCESS_PERMISSIONS",
    "AMR_CONFIGURE",
    "AMR_HOSTNAME",
    "AMR_KEYSPACE_NOTIFICATIONS",
    "AMR_PRIVATE_LINK",
    "BALANCED_OPS_PER_GB",
    "FLASH_MAX_WRITE_SHARE",
    "FLASH_MIN_VALUE_BYTES",
    "FLASH_TIER",
    "IN_MEMORY_TIERS",
    "MEMORY_PER_VCPU",
    "MICROSOFT_SIZE_MAP",
    "OVERSIZE_FACTOR",
    "RIOT",
    "STATEFUL",
    "Alternative",
    "Blocker",
    "DataMigration",
    "MigrationPlan",
    "NamespacePlan",
    "Need",
    "NothingToMigrate",
    "PlanError",
    "RetiringInstance",
    "SlotPair",
    "Source",
    "Status",
    "Step",
    "Strategy",
    "Target",
    "UnknownInstance",
    "flash_fit",
    "migration_plan",
    "render_markdown",
    "render_text",
    "retirement_date",
    "retirement_urgency",
    "retiring_instances",
    "slot_pairs",
]

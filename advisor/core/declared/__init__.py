"""Instances from where they are declared: a Terraform plan or state, or Azure Resource Manager.

- `models`: `DeclaredInstance` (a partial design-file instance entry, the fields its source leaves
  unknown, and what the source does with it), `Reading` (all of a document, with the resources
  ignored and counted) and `DeclaredError`;
- `azure`: Azure's names (SKUs, policies, locations) onto the design file's, with their sources;
- `terraform`: `read_terraform`, the output of `terraform show -json` (plan or state);
- `arm`: `read_arm`, the REST responses of Microsoft.Cache/redis and Microsoft.Cache/redisEnterprise.

Nothing here touches the registry: the Django layer compares a reading with it and writes.
"""

from __future__ import annotations

from advisor.core.declared.arm import read_arm
from advisor.core.declared.models import (
    DECLARED_FIELDS,
    IMPORTED_ACTIONS,
    DeclaredError,
    DeclaredInstance,
    Reading,
)
from advisor.core.declared.terraform import read_terraform

__all__ = [
    "DECLARED_FIELDS",
    "IMPORTED_ACTIONS",
    "DeclaredError",
    "DeclaredInstance",
    "Reading",
    "read_arm",
    "read_terraform",
]

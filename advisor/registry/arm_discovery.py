"""Asking Azure Resource Manager which Redis caches a subscription (or one resource group) has:
Azure Cache for Redis through azure-mgmt-redis (Microsoft.Cache/redis), Redis Enterprise and Azure
Managed Redis through azure-mgmt-redisenterprise (Microsoft.Cache/redisEnterprise and its
databases), signed in with DefaultAzureCredential (AZURE_* environment variables, a workload or
managed identity, or `az login`).

Only list and read operations are called; access keys are never requested. What the SDKs return
is turned back into the REST API's JSON (`serialize(keep_readonly=True)`), which the domain core
reads (advisor.core.declared.arm). Nothing here touches the registry: `writes.declared_import`
writes what the core read.
"""

from __future__ import annotations

import re
from typing import Any

from advisor.core.declared import Reading, read_arm

SUBSCRIPTION_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Azure resource group names: 1-90 letters, digits, '.', '_', '-', '(' and ')', not ending in '.'.
RESOURCE_GROUP_RE = re.compile(r"[-\w._()]{0,89}[-\w_()]")
_GROUP_IN_ID_RE = re.compile(r"/resourceGroups/(?P<group>[^/]+)/", re.IGNORECASE)


class DiscoveryError(Exception):
    """Azure could not be asked: no credential, refused, no access, or out of reach."""


def default_credential():
    """DefaultAzureCredential: AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or
    AZURE_CLIENT_CERTIFICATE_PATH, AZURE_FEDERATED_TOKEN_FILE), a managed identity, or the
    Azure CLI's sign-in, tried in that order."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def default_transport():
    """None: the SDKs' own HTTP transport (tests hand over a recorded one)."""
    return None


def discover(subscription: str, resource_group: str | None = None) -> Reading:
    """The Redis instances ARM lists in the subscription (or resource group)."""
    from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError

    if not SUBSCRIPTION_RE.fullmatch(subscription or ""):
        raise ValueError(f"{subscription!r} is not a subscription id (a GUID)")
    if resource_group is not None and not RESOURCE_GROUP_RE.fullmatch(resource_group):
        raise ValueError(f"{resource_group!r} is not a resource group name")
    credential = default_credential()
    try:
        caches, clusters, databases = _list(subscription, resource_group, credential, default_transport())
    except ClientAuthenticationError as exc:
        raise DiscoveryError(f"Azure did not accept the credential: {_first_line(exc)}") from None
    except HttpResponseError as exc:
        raise DiscoveryError(
            f"Azure Resource Manager answered {exc.status_code}: {_first_line(exc)}"
        ) from None
    except AzureError as exc:
        raise DiscoveryError(f"Azure Resource Manager could not be reached: {_first_line(exc)}") from None
    finally:
        close = getattr(credential, "close", None)
        if close is not None:
            close()
    return read_arm(caches, clusters, databases)


def _list(subscription: str, resource_group: str | None, credential, transport):
    from azure.mgmt.redis import RedisManagementClient
    from azure.mgmt.redisenterprise import RedisEnterpriseManagementClient

    options: dict[str, Any] = {"transport": transport} if transport is not None else {}
    with (
        RedisManagementClient(credential, subscription, **options) as redis,
        RedisEnterpriseManagementClient(credential, subscription, **options) as enterprise,
    ):
        if resource_group:
            cache_pages = redis.redis.list_by_resource_group(resource_group)
            cluster_pages = enterprise.redis_enterprise.list_by_resource_group(resource_group)
        else:
            cache_pages = redis.redis.list_by_subscription()
            cluster_pages = enterprise.redis_enterprise.list()
        caches = [_rest(cache) for cache in cache_pages]
        clusters = [_rest(cluster) for cluster in cluster_pages]
        databases = {}
        for cluster in clusters:
            group = _GROUP_IN_ID_RE.search(cluster.get("id", ""))
            if group is None or not cluster.get("name"):
                continue  # read_arm reports the cluster as it is
            databases[cluster["id"]] = [
                _rest(db) for db in enterprise.databases.list_by_cluster(group["group"], cluster["name"])
            ]
    return caches, clusters, databases


def _rest(model) -> dict:
    """The SDK model as the REST API's JSON, read-only properties (host name, linked servers) kept."""
    return model.serialize(keep_readonly=True)


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "message", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

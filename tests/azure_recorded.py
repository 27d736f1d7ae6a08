"""Azure Resource Manager, recorded: an azure-core HttpTransport that answers the SDKs' requests
with JSON fixtures shaped like the REST API's responses (tests/data/azure), and a credential that
hands out a static token. Nothing leaves the machine: a request the routes do not know fails the
test instead of going anywhere.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import requests
import urllib3
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest._requests_basic import RestRequestsTransportResponse

DATA = Path(__file__).parent / "data" / "azure"
SUBSCRIPTION = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b"
TOKEN = "static-test-token"
_SUB = f"/subscriptions/{SUBSCRIPTION}"
_CACHE = "/providers/Microsoft.Cache"

# (path, query without api-version) -> (status, fixture file)
ROUTES: dict[tuple[str, frozenset], tuple[int, str]] = {
    (f"{_SUB}{_CACHE}/redis", frozenset()): (200, "redis_list_page1.json"),
    (f"{_SUB}{_CACHE}/redis", frozenset({("$skipToken", "cGF5bWVudHMtY2FjaGU=")})): (
        200,
        "redis_list_page2.json",
    ),
    (f"{_SUB}{_CACHE}/redisEnterprise", frozenset()): (200, "redis_enterprise_list.json"),
    (f"{_SUB}/resourceGroups/rg-orders{_CACHE}/redisEnterprise/orders-amr/databases", frozenset()): (
        200,
        "databases_orders_amr.json",
    ),
    (f"{_SUB}/resourceGroups/rg-legacy{_CACHE}/redisEnterprise/legacy-ent/databases", frozenset()): (
        200,
        "databases_legacy_ent.json",
    ),
}


def resource_group_routes(group: str) -> dict:
    """The recorded answers for one resource group: its caches and clusters, with the clusters'
    databases."""
    caches = [
        item
        for file in ("redis_list_page1.json", "redis_list_page2.json")
        for item in json.loads((DATA / file).read_text())["value"]
        if f"/resourceGroups/{group}/" in item["id"]
    ]
    clusters = [
        item
        for item in json.loads((DATA / "redis_enterprise_list.json").read_text())["value"]
        if f"/resourceGroups/{group}/" in item["id"]
    ]
    base = f"{_SUB}/resourceGroups/{group}{_CACHE}"
    return {
        (f"{base}/redis", frozenset()): ("inline", {"value": caches}),
        (f"{base}/redisEnterprise", frozenset()): ("inline", {"value": clusters}),
        **{key: answer for key, answer in ROUTES.items() if key[0].startswith(f"{base}/")},
    }


class RecordedTransport(HttpTransport):
    """Answers from the routes; records every request it was asked (method, URL, headers)."""

    def __init__(self, routes: dict | None = None, *, fail: dict | None = None):
        self.routes = dict(ROUTES if routes is None else routes)
        self.fail = fail or {}  # path -> (status, fixture file): an error answer
        self.requests: list[tuple[str, str, dict]] = []

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __exit__(self, *args) -> None:
        pass

    def send(self, request, **kwargs):
        self.requests.append((request.method, request.url, dict(request.headers)))
        url = urlsplit(request.url)
        assert url.scheme == "https" and url.hostname == "management.azure.com", request.url
        query = dict(parse_qsl(url.query))
        assert query.pop("api-version", None), f"no api-version: {request.url}"
        key = (url.path, frozenset(query.items()))
        if url.path in self.fail:
            status, file = self.fail[url.path]
            body = json.loads((DATA / file).read_text())
        else:
            assert request.method == "GET", f"only reads are recorded: {request.method} {request.url}"
            assert key in self.routes, f"no recorded answer for {request.url}"
            status, file = self.routes[key]
            body = file if status == "inline" else json.loads((DATA / file).read_text())
            status = 200 if status == "inline" else status
        return _response(request, status, body)


def _response(request, status: int, body: dict):
    data = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "x-ms-request-id": "00000000-0000-0000-0000-000000000000",
    }
    raw = urllib3.response.HTTPResponse(
        body=io.BytesIO(data), headers=headers, status=status, preload_content=False
    )
    internal = requests.Response()
    internal.status_code = status
    internal.reason = "OK" if status == 200 else "Forbidden" if status == 403 else "Error"
    internal.raw = raw
    internal.headers = requests.structures.CaseInsensitiveDict(headers)
    internal.url = request.url
    response = RestRequestsTransportResponse(request=request, internal_response=internal, block_size=4096)
    response.read()
    return response


class StaticCredential:
    """A credential with a fixed token, counted, and closed like DefaultAzureCredential."""

    def __init__(self):
        self.scopes: list[tuple[str, ...]] = []
        self.closed = False

    def get_token(self, *scopes, **kwargs) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(TOKEN, 4102444800)  # 2100-01-01

    def close(self) -> None:
        self.closed = True

"""GET /metrics: the Prometheus exposition, for a scraper holding the bearer token.

No ADVISOR_METRICS_TOKEN, no endpoint (404). A request without the token or with another one gets
a 401 with `WWW-Authenticate: Bearer` (RFC 6750); the token is compared in constant time.
"""

import hashlib
import hmac

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from .collector import AdvisorCollector


def _digest(token: str) -> bytes:
    # Comparing digests of equal length: the time taken says nothing about the token's length either.
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


def _presented_token(request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _unauthorized(error: str | None) -> HttpResponse:
    challenge = 'Bearer realm="advisor metrics"'
    if error:
        challenge += f', error="{error}"'
    response = HttpResponse(
        "A bearer token is required: Authorization: Bearer <ADVISOR_METRICS_TOKEN>\n",
        status=401,
        content_type="text/plain; charset=utf-8",
    )
    response["WWW-Authenticate"] = challenge
    return response


@require_safe
@never_cache
def metrics(request):
    expected = settings.ADVISOR_METRICS_TOKEN
    if not expected:
        raise Http404("metrics are off: ADVISOR_METRICS_TOKEN is not set")
    presented = _presented_token(request)
    if presented is None:
        return _unauthorized(None)
    if not hmac.compare_digest(_digest(presented), _digest(expected)):
        return _unauthorized("invalid_token")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AdvisorCollector())
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(registry), content_type=content_type)

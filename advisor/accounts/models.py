import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "rka_"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiToken(models.Model):
    """A personal API token. Only its SHA-256 digest is stored; the token is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    # The public part lets us find the row without scanning every digest.
    lookup = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({TOKEN_PREFIX}{self.lookup}…)"

    @classmethod
    def issue(cls, *, user, name: str) -> tuple["ApiToken", str]:
        lookup = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, lookup=lookup, digest=_digest(secret))
        return token, f"{TOKEN_PREFIX}{lookup}_{secret}"

    @classmethod
    def authenticate(cls, raw: str):
        """The user owning this token, or None."""
        if not raw.startswith(TOKEN_PREFIX) or "_" not in raw[len(TOKEN_PREFIX) :]:
            return None
        lookup, _, secret = raw[len(TOKEN_PREFIX) :].partition("_")
        token = cls.objects.select_related("user").filter(lookup=lookup).first()
        if token is None or not secrets.compare_digest(token.digest, _digest(secret)):
            return None
        if not token.user.is_active:
            return None
        cls.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        return token.user

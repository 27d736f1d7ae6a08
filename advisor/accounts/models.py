import datetime as dt
import hashlib
import math
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "rka_"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def default_expiry(now: dt.datetime | None = None) -> dt.datetime:
    """When a token issued now expires without a choice of its owner (ADVISOR_TOKEN_DEFAULT_DAYS)."""
    return (now or timezone.now()) + dt.timedelta(days=settings.ADVISOR_TOKEN_DEFAULT_DAYS)


class TokenExpired(Exception):
    """A token with the right secret, past its expiry: refused, with a reason its owner can act on."""

    def __init__(self, token: "ApiToken"):
        self.token = token
        when = timezone.localtime(token.expires_at).strftime("%Y-%m-%d %H:%M %Z")
        super().__init__(
            f"API token '{token.name}' expired on {when}. Create a new one on the API tokens page "
            "(/account/tokens/)."
        )


class ApiToken(models.Model):
    """A personal API token. Only its SHA-256 digest is stored; the token is shown once.

    Every token expires: its owner picks the lifetime when creating it, at most
    ADVISOR_TOKEN_MAX_DAYS days (ADVISOR_TOKEN_DEFAULT_DAYS when they don't choose).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    # The public part lets us find the row without scanning every digest.
    lookup = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({TOKEN_PREFIX}{self.lookup}…)"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def days_left(self) -> int:
        """Whole days until expiry, counting a started day (a fresh 90-day token has 90); 0 once expired."""
        seconds = (self.expires_at - timezone.now()).total_seconds()
        return max(0, math.ceil(seconds / 86400))

    @classmethod
    def issue(cls, *, user, name: str, days: int | None = None) -> tuple["ApiToken", str]:
        """A new token valid for `days` days (the default lifetime when None)."""
        if days is None:
            days = settings.ADVISOR_TOKEN_DEFAULT_DAYS
        if not 1 <= days <= settings.ADVISOR_TOKEN_MAX_DAYS:
            raise ValueError(f"a token lives 1 to {settings.ADVISOR_TOKEN_MAX_DAYS} days, not {days}")
        lookup = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name,
            lookup=lookup,
            digest=_digest(secret),
            expires_at=timezone.now() + dt.timedelta(days=days),
        )
        return token, f"{TOKEN_PREFIX}{lookup}_{secret}"

    @classmethod
    def authenticate(cls, raw: str):
        """The user owning this token, or None; raises TokenExpired for a genuine but expired token.

        The expiry is only disclosed to a caller who holds the secret.
        """
        if not raw.startswith(TOKEN_PREFIX) or "_" not in raw[len(TOKEN_PREFIX) :]:
            return None
        lookup, _, secret = raw[len(TOKEN_PREFIX) :].partition("_")
        token = cls.objects.select_related("user").filter(lookup=lookup).first()
        if token is None or not secrets.compare_digest(token.digest, _digest(secret)):
            return None
        if not token.user.is_active:
            return None
        if token.is_expired:
            raise TokenExpired(token)
        cls.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        return token.user


# Sign-in with Microsoft Entra ID / OpenID Connect (advisor/accounts/oidc.py) ---------------------


class OidcIdentity(models.Model):
    """The link between an account and the provider's user: the issuer and the user's immutable id
    (Entra's `oid`, else `sub`), so that a renamed user stays the same account.

    `granted` lists the rights the group mapping gave at the last sign-in; only these are taken
    away again when a group goes. Rights given by hand (on the account or its teams) are never in it.
    An administrator links an existing account by adding a row here with the user's object id.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identity"
    )
    issuer = models.CharField(max_length=300)
    subject = models.CharField(
        max_length=255, help_text="The user's object id (oid) in Entra ID; the sub claim for other providers."
    )
    granted = models.JSONField(
        default=list, blank=True, help_text="Rights the last sign-in gave from groups."
    )
    groups = models.JSONField(default=list, blank=True, help_text="Group ids in the last sign-in's token.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "single sign-on identity"
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="oidc_identity_unique")]

    def __str__(self) -> str:
        return f"{self.user} ({self.subject})"


class OidcGroupMapping(models.Model):
    """A group of the identity provider (an Entra group's object id) and one right it gives:
    a role or a team membership. Applied, with ADVISOR_OIDC_GROUP_MAP, at each sign-in."""

    ROLE_CHOICES = [
        ("admin", "Administrator (the advisor's admin rights)"),
        ("superuser", "Superuser (the advisor and the whole Django admin)"),
        ("reviewer", "Reviewer (the reviewers group)"),
    ]

    group_id = models.CharField(
        "group id",
        max_length=255,
        help_text="The Entra group's object id, as the token's groups claim carries it.",
    )
    role = models.CharField(max_length=20, choices=ROLE_CHOICES, blank=True)
    team = models.ForeignKey(
        "registry.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="oidc_group_mappings"
    )
    note = models.CharField(max_length=200, blank=True, help_text="E.g. the group's display name.")

    class Meta:
        verbose_name = "single sign-on group mapping"
        ordering = ["group_id", "role", "team__name"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(role="") & models.Q(team__isnull=False))
                | (~models.Q(role="") & models.Q(team__isnull=True)),
                name="oidc_group_mapping_role_or_team",
                violation_error_message="Give either a role or a team, not both.",
            ),
            models.UniqueConstraint(
                fields=["group_id", "role"],
                condition=models.Q(team__isnull=True),
                name="oidc_group_role_unique",
            ),
            models.UniqueConstraint(
                fields=["group_id", "team"],
                condition=models.Q(team__isnull=False),
                name="oidc_group_team_unique",
            ),
        ]

    def __str__(self) -> str:
        what = f"role {self.role}" if self.role else f"team {self.team}"
        return f"{self.group_id} → {what}"

    def save(self, *args, **kwargs):
        self.clean()
        super().save(*args, **kwargs)

    def clean(self):
        from .oidc_settings import normalize_group_id

        self.group_id = normalize_group_id(self.group_id)

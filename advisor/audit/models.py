"""The audit trail: who changed what, when, with the values before and after. Append-only."""

from django.conf import settings
from django.db import models


class AuditEventQuerySet(models.QuerySet):
    # Bulk paths bypass save() and delete(); the trail is evidence, so they are closed too.
    def update(self, **kwargs):
        raise PermissionError("The audit trail is append-only.")

    def delete(self):
        raise PermissionError("The audit trail is append-only.")


class AuditEvent(models.Model):
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text as well, so the trail still names people whose accounts are gone.
    actor_name = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=40, db_index=True)
    obj_type = models.CharField("object type", max_length=40, db_index=True)
    obj_name = models.CharField("object", max_length=200, db_index=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name or 'system'} {self.action} {self.obj_type} {self.obj_name}"

    def save(self, *args, **kwargs):
        # A guard, not behaviour: an event once written is never rewritten.
        if not self._state.adding:
            raise PermissionError("The audit trail is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit trail is append-only.")

    @property
    def changes(self) -> list[tuple[str, object, object]]:
        """(field, before, after) for every field that differs, dotted for nested values."""
        from .services import flat_diff

        return flat_diff(self.before, self.after)

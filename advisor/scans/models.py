"""Scan runs: one row per scan of an instance, from queued to a stored report."""

from django.conf import settings
from django.db import models, transaction
from django.db.models import Max
from django.urls import reverse

from advisor.registry.models import Instance


class ScanRunManager(models.Manager):
    def create(self, **fields):
        """Create a run numbered after the instance's last one (#1, #2, ... per instance).

        The number is read and the row inserted in one transaction that first locks the instance
        row, so concurrent creators for one instance take turns on PostgreSQL; on SQLite the
        settings' IMMEDIATE transactions already let one writer in at a time. The unique
        constraint on (instance, number) refuses a duplicate whatever happens.
        """
        if fields.get("number") is not None:
            return super().create(**fields)
        instance_id = fields["instance"].pk if "instance" in fields else fields["instance_id"]
        with transaction.atomic():
            list(Instance.objects.select_for_update().filter(pk=instance_id).values_list("pk"))
            last = self.filter(instance_id=instance_id).aggregate(n=Max("number"))["n"] or 0
            return super().create(**fields, number=last + 1)


class ScanRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Trigger(models.TextChoices):
        MANUAL = "manual"
        SCHEDULE = "schedule"
        COMMAND = "command"
        API = "api"

    FINISHED = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)
    ACTIVE = (Status.QUEUED, Status.RUNNING)

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="scan_runs")
    # The run's number among the instance's runs (#1, #2, ...), shown to people; `pk` is global.
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    trigger = models.CharField(max_length=12, choices=Trigger.choices, default=Trigger.MANUAL)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A running scan touches this at least every few seconds; a stale one means its worker died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    task_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The token of the instance lock of the attempt running it: a worker writes to its run only
    # while the run is running under its own token, so a reaped, cancelled or finished run is final.
    owner = models.CharField(max_length=64, blank=True)

    keys_scanned = models.PositiveBigIntegerField(default=0)
    keys_total = models.PositiveBigIntegerField(null=True, blank=True)  # DBSIZE when the scan began
    complete = models.BooleanField(default=False)
    coverage = models.FloatField(null=True, blank=True)  # share of scanned keys matched to a namespace
    # One line, for failed and cancelled runs, kept whole: it quotes what the server said.
    reason = models.TextField(blank=True)
    error_kind = models.CharField(max_length=16, blank=True)  # ScanError.kind of a failed run

    report = models.JSONField(null=True, blank=True)  # the scan JSON of the contract, findings included
    findings_high = models.PositiveIntegerField(default=0)  # unwaived findings at high or above
    findings_total = models.PositiveIntegerField(default=0)  # unwaived findings
    memory_bytes = models.PositiveBigIntegerField(null=True, blank=True)

    objects = ScanRunManager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["instance", "number"], name="one_number_per_instance_scan_run")
        ]

    def __str__(self) -> str:
        return f"scan #{self.number} of {self.instance.name} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("scan_detail", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def progress_percent(self) -> int | None:
        """How far the scan got: None while queued (nothing scanned yet, whatever an earlier
        attempt had reached) and while the number of keys to scan is unknown."""
        if self.status == self.Status.COMPLETED:
            return 100
        if self.status == self.Status.QUEUED or not self.keys_total:
            return None
        return min(99, int(100 * self.keys_scanned / self.keys_total))

    @property
    def origin(self) -> str:
        """Who or what started the run, for people: "Alice, on the page", "the schedule"."""
        who = self.requested_by.get_username() if self.requested_by_id else None
        if self.trigger == self.Trigger.SCHEDULE:
            return "the schedule"
        if self.trigger == self.Trigger.COMMAND:
            return "the scan_instance command"
        if self.trigger == self.Trigger.API:
            return f"{who}, through the API" if who else "the API"
        return f"{who}, on the page" if who else "a user on the page"

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    @property
    def findings(self) -> list[dict]:
        return (self.report or {}).get("findings", [])

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "advisor.audit"
    verbose_name = "Audit trail"

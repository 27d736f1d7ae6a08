# Every token expires. Tokens issued before expiry existed get the default lifetime from the
# day of this migration (ADVISOR_TOKEN_DEFAULT_DAYS), so no script breaks on upgrade day.

import datetime as dt

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


def give_existing_tokens_an_expiry(apps, schema_editor):
    ApiToken = apps.get_model("accounts", "ApiToken")
    expires_at = timezone.now() + dt.timedelta(days=settings.ADVISOR_TOKEN_DEFAULT_DAYS)
    ApiToken.objects.using(schema_editor.connection.alias).filter(expires_at__isnull=True).update(
        expires_at=expires_at
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(give_existing_tokens_an_expiry, migrations.RunPython.noop),
    ]

"""`lint_designs`: the linter as a management command, a thin shell over advisor.lint_cli.

`python manage.py lint_designs` does not come here: manage.py runs advisor.lint_cli before Django
is set up, so that the linter needs no settings. This class serves call_command() and django-admin
in a configured project; the only difference is that "today" comes from the advisor's clock.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from advisor import lint_cli
from advisor.findings import clock


class _Out:
    """Django's output wrapper, writing exactly what it is given (no added line endings)."""

    def __init__(self, wrapper):
        self._wrapper = wrapper

    def write(self, text: str) -> None:
        self._wrapper.write(text, ending="")

    def isatty(self) -> bool:
        return self._wrapper.isatty()


class Command(BaseCommand):
    help = lint_cli.DESCRIPTION
    # CI runs this against a checkout with no database at all: nothing here may need one.
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        lint_cli.add_arguments(parser, color_options=False)  # Django has --no-color, --force-color

    def handle(self, *args, files, format, fail_on, today, **options):
        try:
            code = lint_cli.run(
                files,
                format=format,
                fail_on=fail_on,
                today=today or clock.today(),
                color=lint_cli.use_color(
                    self.stdout, no_color=options["no_color"], force_color=options["force_color"]
                ),
                help_base_uri=lint_cli.help_base_uri_from_env(),
                stdout=_Out(self.stdout),
                stderr=_Out(self.stderr),
                max_bytes=settings.ADVISOR_MAX_DESIGN_BYTES,
            )
        except lint_cli.UsageError as e:
            raise CommandError(str(e)) from None
        if code:
            raise SystemExit(code)

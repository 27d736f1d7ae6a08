#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["lint_designs"]:
        # The linter needs no settings, database or Redis (CI, pre-commit hooks): it runs without
        # Django, so that it works without ADVISOR_SECRET_KEY, which the web app itself requires.
        from advisor.lint_cli import main

        sys.exit(
            main(sys.argv[2:], prog=f"{os.path.basename(sys.argv[0])} lint_designs", django_options=True)
        )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "advisor.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)

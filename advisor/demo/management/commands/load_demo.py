"""manage.py load_demo: the demo design in the registry, pointed at a demo cache, and demo users."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from pydantic import ValidationError

from advisor.core.design import DesignError, load_design_file
from advisor.demo.keyspace import DEMO_DESIGN_PATH, local_instances, with_cache_url
from advisor.registry.models import Instance, Team
from advisor.registry.services import design_import
from advisor.scans.schedules import schedule_cron, schedule_get, schedule_set

# username, e-mail, role shown in the login block
DEMO_USERS = [
    ("demo", "demo@contoso.example", "administrator: everything, including imports and the admin"),
    ("mia", "mia@contoso.example", "member of team catalog: edits catalog namespaces"),
    ("rita", "rita@contoso.example", "in the reviewers group: reviews designs"),
]
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # nothing to confuse when reading it off a terminal


def new_password() -> str:
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(5)) for _ in range(4))


def read_password(path: Path) -> str | None:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return None
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            return line
    return None


def write_password(path: Path, password: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created with 0600 from the start: there is no moment when others could read it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(
            "# Password of the demo users (demo, mia, rita) created by `manage.py load_demo`.\n"
            "# Delete this file to get a new password on the next `make run`.\n"
            f"{password}\n"
        )
    os.chmod(path, 0o600)


class Command(BaseCommand):
    help = (
        "Import the demo design with its local instances pointed at a demo cache, and create the demo users."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--cache-url",
            required=True,
            action="append",
            metavar="[INSTANCE=]URL",
            help="redis://127.0.0.1:PORT of the demo cache, for every local instance of the design or, "
            "as INSTANCE=URL, for one of them (repeatable); each instance keeps its database number",
        )
        parser.add_argument(
            "--password-file",
            help="where the demo password is kept (default: VAR_DIR/demo-login.txt); reused when present",
        )
        parser.add_argument(
            "--design", default=str(DEMO_DESIGN_PATH), help="design file (default: the demo design)"
        )

    def handle(self, *args, cache_url, password_file, design, **options):
        try:
            loaded = load_design_file(design)
        except OSError as e:
            raise CommandError(f"{design}: cannot read: {e.strerror}") from None
        except DesignError as e:
            raise CommandError(f"{design}: invalid design file:\n{e}") from None
        local = local_instances(loaded)
        try:
            for value in cache_url:
                name, sep, url = value.partition("=")
                if not sep or "://" in name:
                    loaded = with_cache_url(loaded, value)
                elif name not in local:
                    raise CommandError(
                        f"--cache-url {name}=...: not a local instance of the design ({', '.join(local)})"
                    )
                else:
                    loaded = with_cache_url(loaded, url, only=[name])
        except ValidationError as e:
            # Only the messages: pydantic's own text would echo the URL, which may hold a password.
            raise CommandError("--cache-url: " + "; ".join(err["msg"] for err in e.errors())) from None

        path = Path(password_file) if password_file else Path(settings.VAR_DIR) / "demo-login.txt"
        password = read_password(path)
        fresh_password = password is None
        if fresh_password:
            password = new_password()

        with transaction.atomic():
            summary = design_import(loaded)
            paused = self._pause_fictitious(loaded, local)
            created = self._users(password, reset=fresh_password)
        # Only after the users have it, so a failed import leaves no password nobody can use.
        if fresh_password:
            write_password(path, password)

        self.stdout.write(f"Imported the demo design: {summary}")
        for name in local:
            self.stdout.write(f"  {name} -> {loaded.instance(name).connection.url}")
        if paused:
            self.stdout.write(f"Scheduled scans paused (fictitious hosts): {', '.join(paused)}")
        if created:
            self.stdout.write(f"Created demo users: {', '.join(created)}")
        self.stdout.write(self.login_block(password, path))

    @staticmethod
    def _pause_fictitious(design, local: list[str]) -> list[str]:
        """Pause the scan schedule of every instance that is not a local demo cache.

        The import gives each instance with a connection the nightly scan, and the demo's other
        instances name made-up public Azure hosts: a `make run` left running overnight would
        connect out to them. Their schedule stays, paused, so that the import and the instance
        form (which keep an existing schedule) never start it again; an administrator can still
        enable it or press Scan now.
        """
        remote = [i.name for i in design.instances if i.connection and i.name not in local]
        for instance in Instance.objects.filter(name__in=remote).order_by("name"):
            cron = schedule_cron(schedule_get(instance)) or settings.ADVISOR_SCAN_DEFAULT_CRON
            schedule_set(instance, cron=cron, enabled=False)
        return sorted(remote)

    def _users(self, password: str, *, reset: bool) -> list[str]:
        """Create missing demo users; a new password is set on all of them, an old one only on new users."""
        User = get_user_model()
        created = []
        for username, email, _ in DEMO_USERS:
            user, is_new = User.objects.get_or_create(username=username, defaults={"email": email})
            if is_new or reset:
                # Existing users keep a password someone may have changed on purpose.
                user.set_password(password)
            if username == "demo":
                user.is_staff = user.is_superuser = True
            user.save()
            if username == "mia":
                Team.objects.get(name="catalog").members.add(user)
            if username == "rita":
                user.groups.add(Group.objects.get_or_create(name="reviewers")[0])
            if is_new:
                created.append(username)
        return created

    @staticmethod
    def login_block(password: str, path: Path) -> str:
        width = max(len(u) for u, _, _ in DEMO_USERS)
        lines = [
            "",
            "  Demo logins (the password is kept in " + str(path) + ")",
            "",
            *(f"    {u:<{width}}  {password}   {role}" for u, _, role in DEMO_USERS),
            "",
        ]
        return "\n".join(lines)

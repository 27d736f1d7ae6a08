"""Shared fixtures: personas (admin, team member, member of another team, reviewer, viewer)
and the demo design loaded into the registry."""

import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO_DESIGN = ROOT / "advisor" / "demo" / "demo_design.yaml"
CLEAN_DESIGN = ROOT / "tests" / "data" / "clean_design.yaml"


@pytest.fixture(scope="session", autouse=True)
def private_broker():
    """A private Redis as Celery broker and lock store, so no test touches the shared 6379."""
    from django.conf import settings

    from advisor.lib.redisproc import RedisProcess

    if not settings.configured:  # a Django-free run (-p no:django) of the domain core's tests
        yield None
        return
    from advisor.celery import app

    with RedisProcess() as server:
        settings.REDIS_URL = server.url
        settings.CELERY_BROKER_URL = server.url
        app.conf.broker_url = server.url
        yield server


@functools.cache
def demo_design():
    """The demo design, parsed once per session (designs are immutable pydantic models)."""
    from advisor.core.design import load_design

    return load_design(DEMO_DESIGN.read_bytes(), filename=str(DEMO_DESIGN))


@pytest.fixture
def demo_registry(db):
    """The demo design file imported into the registry."""
    from advisor.registry.services import design_import

    design_import(demo_design())


def _user(django_user_model, username, **extra):
    return django_user_model.objects.create_user(username=username, password="pw-" + username, **extra)


@pytest.fixture
def admin_user(db, django_user_model):
    return _user(django_user_model, "alice-admin", is_staff=True, is_superuser=True)


@pytest.fixture
def member(demo_registry, django_user_model):
    """A member of the catalog team."""
    from advisor.registry.models import Team

    user = _user(django_user_model, "mia-member")
    Team.objects.get(name="catalog").members.add(user)
    return user


@pytest.fixture
def other_member(demo_registry, django_user_model):
    """A member of the identity team (not catalog)."""
    from advisor.registry.models import Team

    user = _user(django_user_model, "oscar-other")
    Team.objects.get(name="identity").members.add(user)
    return user


@pytest.fixture
def viewer(db, django_user_model):
    return _user(django_user_model, "vera-viewer")


@pytest.fixture
def reviewer(db, django_user_model):
    from django.contrib.auth.models import Group

    user = _user(django_user_model, "rita-reviewer")
    user.groups.add(Group.objects.get_or_create(name="reviewers")[0])
    return user

"""Where apps above the registry take part in its writes and pages, without the registry importing
them.

Imports run one way (docs/architecture.md): findings and scans read the registry, so the registry
imports neither. Where a write or a page of the registry needs them, it calls a function of this
module at a named point, and the apps that answer register plain functions here once, from their
AppConfig.ready(). These are explicit calls, not Django signals: nothing runs on a save() made
around the write services, a reader of `writes.py` sees every point where another app takes part,
and a failure inside the transaction undoes the write instead of being logged and forgotten.

Inside the write's transaction:
- `instance_saved(instance, old_name=...)` once an instance is created, replaced or imported
  (scans: the scan schedule follows a rename, a scannable instance gets the nightly scan);
- `instance_deleting(instance)` before an instance row goes (scans: its schedule goes with it);
- `delete_blockers(row)`: what other apps have against deleting a row now, one sentence per
  reason (scans: a scan of the instance is queued or running).

Once the outermost transaction has committed:
- `registry_changed()`: whatever is computed from the registry follows it (findings: the stored
  findings are recomputed). A failure there is logged by the follower and never undoes or hides
  the committed change.

For the namespace form, what the last scans say (scans; None while no app answers):
- `pattern_change(name=..., instance=..., old=..., new=...)`: what a new pattern does to the keys
  the instance's last complete scan counted for the namespace;
- `scan_draft(run_id=..., index=...)`: the draft entry a scan made for an unregistered family.

The hooks are filled at startup and only read afterwards.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

_instance_saved: list[Callable[..., object]] = []
_instance_deleting: list[Callable[..., object]] = []
_delete_blockers: list[Callable[..., list[str]]] = []
_committed: list[Callable[[], object]] = []
_answers: dict[str, Callable[..., object]] = {}


def register(
    *,
    instance_saved: Callable[..., object] | None = None,
    instance_deleting: Callable[..., object] | None = None,
    delete_blockers: Callable[..., list[str]] | None = None,
    committed: Callable[[], object] | None = None,
    pattern_change: Callable[..., object] | None = None,
    scan_draft: Callable[..., object] | None = None,
) -> None:
    """Called from an AppConfig.ready(); registering the same function twice keeps one."""
    for hooks, func in (
        (_instance_saved, instance_saved),
        (_instance_deleting, instance_deleting),
        (_delete_blockers, delete_blockers),
        (_committed, committed),
    ):
        if func is not None and func not in hooks:
            hooks.append(func)
    for name, func in (("pattern_change", pattern_change), ("scan_draft", scan_draft)):
        if func is not None:
            _answers[name] = func


def instance_saved(instance, *, old_name: str) -> None:
    """`instance` was saved (`old_name` is its name before: empty when created). In the write's
    transaction."""
    for func in _instance_saved:
        func(instance, old_name=old_name)


def instance_deleting(instance) -> None:
    """`instance` is about to be deleted. In the write's transaction."""
    for func in _instance_deleting:
        func(instance)


def delete_blockers(row) -> list[str]:
    """Why other apps keep `row` (a team, an instance or a namespace) from being deleted now."""
    return [reason for func in _delete_blockers for reason in func(row)]


def registry_changed() -> bool | None:
    """Let what is computed from the registry follow a change, once it is committed.

    At once when the write was not part of a larger transaction (the pages, the API, a command):
    then True when every follower succeeded, False when one failed (it has logged why). Else when
    the caller's transaction commits, once however many writes it holds, and None: the caller's
    transaction may still fail.

    The transaction a test case wraps each test in is not the application's (Django's durable
    blocks ignore it alike), so a test sees what a request sees.
    """
    connection = transaction.get_connection()
    if all(getattr(block, "_from_testcase", False) for block in connection.atomic_blocks):
        return _follow()
    # One refresh for the whole transaction (an approval may create many waivers): none is added
    # while one registered at this level or an outer one is pending. One registered inside a
    # savepoint (its ids are in the entry) goes if that savepoint rolls back, so it does not count.
    level = set(connection.savepoint_ids)
    if not any(func is _follow and sids <= level for sids, func, *_ in connection.run_on_commit):
        transaction.on_commit(_follow)
    return None


def _follow() -> bool:
    results = [func() for func in _committed]
    return all(results)


def pattern_change(*, name: str, instance, old: str, new: str):
    """What the instance's last complete scan says about namespace `name` moving from pattern
    `old` to `new` (a message and a level); None when nothing is to be said."""
    answer = _answers.get("pattern_change")
    return answer(name=name, instance=instance, old=old, new=new) if answer else None


def scan_draft(*, run_id: int, index: int) -> tuple[int, dict] | None:
    """(instance id, draft design entry) of the `index`th unregistered family of scan `run_id`;
    None when it is gone."""
    answer = _answers.get("scan_draft")
    return answer(run_id=run_id, index=index) if answer else None

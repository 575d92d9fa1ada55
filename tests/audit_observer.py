"""Which service wrote which audit entry, seen in the real calls of an app's audit tests.

Each app's `tests/<app>/test_audit.py` declares its services: AUDITED_SERVICES (the action
each one writes) and NOT_AUDITED (those that write no entry of their own, each with why). Its
tests call the services for real; while they run, every audit entry saved is traced to the
public service functions on the call stack (`observe`). The module's last test
(`assert_declarations_hold`) then fails if a declared service never wrote its action in any
call, or if a service declared as writing none wrote one itself (the innermost service on the
stack: a service that starts a job run at once is not blamed for the job's entries).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from types import ModuleType

import pytest
from django.db.models.signals import post_save

# Where an app's services live: its `services` module or package, and its sheet module.
SERVICE_MODULE_NAMES = ("services", "sheet")


def service_modules(app: str) -> list[ModuleType]:
    found = []
    for name in SERVICE_MODULE_NAMES:
        if importlib.util.find_spec(f"{app}.{name}") is None:
            continue
        module = importlib.import_module(f"{app}.{name}")
        found.append(module)
        if hasattr(module, "__path__"):  # a package: its modules by topic
            for info in pkgutil.iter_modules(module.__path__):
                found.append(importlib.import_module(f"{module.__name__}.{info.name}"))
    return found


def public_services(app: str) -> dict[str, str]:
    """Public function name → its module, for every function defined in the app's services."""
    functions = {}
    for module in service_modules(app):
        for name, obj in vars(module).items():
            if inspect.isfunction(obj) and obj.__module__ == module.__name__ and name[0] != "_":
                functions[name] = module.__name__
    return functions


@dataclass
class Observed:
    app: str
    # every public service of the app on the stack when an entry was saved, and the innermost
    on_stack: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    innermost: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))

    def record(self, action: str) -> None:
        modules = {module.__name__ for module in service_modules(self.app)}
        first = True
        frame = sys._getframe(2)
        while frame is not None:
            if frame.f_globals.get("__name__") in modules and frame.f_code.co_name[0] != "_":
                name = frame.f_code.co_name
                self.on_stack[name][action] += 1
                if first:
                    self.innermost[name][action] += 1
                    first = False
            frame = frame.f_back


def observe(app: str):
    """Start tracing the audit entries of `app`'s services; returns the record and a function
    that stops it."""
    from cdt_portal.models import AuditEntry

    observed = Observed(app)

    def saved(sender, instance, created, **kwargs):
        if created:
            observed.record(instance.action)

    uid = f"audit-observer-{app}"
    post_save.connect(saved, sender=AuditEntry, weak=False, dispatch_uid=uid)
    return observed, lambda: post_save.disconnect(sender=AuditEntry, dispatch_uid=uid)


def assert_declarations_hold(observed: Observed, audited: dict[str, str], not_audited) -> None:
    declared = set(audited) | set(not_audited)
    functions = set(public_services(observed.app))
    assert not set(audited) & set(not_audited), "declared both ways"
    assert functions == declared, (
        f"{observed.app}: services not declared {sorted(functions - declared)}, "
        f"declared but gone {sorted(declared - functions)}"
    )
    never = {
        name: action
        for name, action in audited.items()
        if observed.on_stack.get(name, Counter())[action] == 0
    }
    assert not never, f"{observed.app}: no call in these tests wrote the declared entry: {never}"
    wrote = {
        name: dict(observed.innermost[name]) for name in not_audited if observed.innermost.get(name)
    }
    assert not wrote, f"{observed.app}: declared as writing no entry, but wrote: {wrote}"


class Audit:
    """The entries written since it was made."""

    def __init__(self) -> None:
        from cdt_portal.models import AuditEntry

        self.model = AuditEntry
        self.last_pk = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def new(self):
        return list(self.model.objects.filter(pk__gt=self.last_pk).order_by("pk"))

    def only(self):
        entries = self.new()
        assert len(entries) == 1, [e.action for e in entries]
        return entries[0]


def assert_entry(entry, *, actor, action, obj, organisation, data) -> None:
    """One entry exactly as a service must write it (no actor: the system)."""
    from django.contrib.contenttypes.models import ContentType

    assert entry.actor_id == (actor.pk if actor else None)
    assert entry.actor_name == (actor.full_name if actor else "")
    assert entry.action == action
    assert entry.content_type == ContentType.objects.get_for_model(obj)
    assert entry.object_id == str(obj.pk)
    assert entry.organisation_id == organisation.pk
    assert entry.data == data


def observed_fixture(app: str):
    """A test module's `observed` fixture (`observed = observed_fixture("accounts")`): every
    audit entry the module's calls write, traced to the services of `app` that wrote it."""

    @pytest.fixture(scope="module", autouse=True)
    def observed():
        record, stop = observe(app)
        yield record
        stop()

    return observed

"""Every service is accounted for: each public function of an app's `services` module is either
walked by that app's audit test (it writes, and its one audit entry is checked) or declared as
one that writes nothing. A new service without either fails here."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

APPS = ["accounts", "signin", "acknowledgements", "onboarding", "departments"]


def public_functions(module) -> set[str]:
    return {
        name
        for name, obj in vars(module).items()
        if inspect.isfunction(obj) and obj.__module__ == module.__name__ and not name[0] == "_"
    }


@pytest.mark.parametrize("app", APPS)
def test_every_service_is_audited_or_declared_read_only(app):
    services = importlib.import_module(f"{app}.services")
    audit_test = importlib.import_module(f"tests.{app}.test_audit")
    audited = set(audit_test.AUDITED_SERVICES)
    read_only = set(audit_test.NOT_WRITING)
    functions = public_functions(services)
    assert not audited & read_only, f"declared both ways: {sorted(audited & read_only)}"
    missing = functions - audited - read_only
    assert not missing, f"{app}.services without an audit test or a read-only mark: {missing}"
    stale = (audited | read_only) - functions
    assert not stale, f"tests/{app}/test_audit.py names functions that do not exist: {stale}"


# ORM writes: a model's save()/delete(), a manager's create-like calls, a queryset's update()
# or delete(), and many-to-many changes. A file storage's save() is not a database write.
ORM_WRITE = re.compile(
    r"(?<!storage)(?<!super\(\))\.(save|delete)\("
    r"|\.objects\.(create|get_or_create|update_or_create|bulk_create|bulk_update|update)\("
    r"|\)\.(update|delete)\("
    r"|\.(teachers|students|user_roles)\.(add|remove|set|clear)\("
)
# Where writes belong: each app's services, the audit log's one writer, the job plumbing's
# bookkeeping of its own Job rows, the health stamps (its own ServiceBeat rows), the demo
# loader (run by `manage.py loaddemo` on a development machine) and migrations.
ALLOWED = {"services.py", "audit.py", "jobs.py", "health.py", "demo.py"}


@pytest.mark.parametrize("app", [*APPS, "signin", "portal", "cdt_portal"])
def test_no_other_module_of_an_app_writes_through_the_orm(app):
    root = Path(__file__).resolve().parent.parent / app
    offenders = []
    for path in sorted(root.rglob("*.py")):
        if {"migrations", "settings"} & set(path.parts) or path.name in ALLOWED:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if ORM_WRITE.search(line.split("#", 1)[0]):
                offenders.append(f"{path.relative_to(root.parent)}:{number}: {line.strip()}")
    assert not offenders, "writes outside services.py:\n" + "\n".join(offenders)


def test_the_write_pattern_finds_writes_and_only_writes():
    for line in [
        "form.save()",
        "Guardianship.objects.filter(student=s).delete()",
        "ImportBatch.objects.create(",
        "User.objects.filter(pk=1).update(is_active=False)",
        "group.teachers.add(teacher)",
    ]:
        assert ORM_WRITE.search(line), line
    for line in [
        "context.update(forms)",
        "default_storage.save(path, ContentFile(pdf))",
        "super().save(*args, **kwargs)",
    ]:
        assert not ORM_WRITE.search(line), line

"""Every service is accounted for, in real calls: each app's `tests/<app>/test_audit.py`
declares every public function of its services (AUDITED_SERVICES with the action it writes,
NOT_AUDITED with why it writes none), calls them, and ends with a test that checks, from the
audit entries those calls really wrote, that each declaration holds (`tests/audit_observer.py`).
Here: every app has such a module, and its checking test comes last, after every call."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

APPS = ["accounts", "signin", "acknowledgements", "families", "onboarding", "departments", "portal"]
CHECK = "test_every_service_wrote_what_it_declares"


@pytest.mark.parametrize("app", APPS)
def test_every_app_checks_its_services_in_real_calls(app):
    audit_test = importlib.import_module(f"tests.{app}.test_audit")
    assert isinstance(audit_test.AUDITED_SERVICES, dict)
    assert isinstance(audit_test.NOT_AUDITED, dict), "NOT_AUDITED: each function with why"
    assert all(reason.strip() for reason in audit_test.NOT_AUDITED.values())
    tests = [
        name
        for name, obj in vars(audit_test).items()
        if name.startswith("test_") and inspect.isfunction(obj)
    ]
    assert tests[-1] == CHECK, f"tests/{app}/test_audit.py must end with {CHECK}"


# ORM writes: a model's save()/delete(), a manager's create-like calls, a queryset's update()
# or delete(), and many-to-many changes. A file storage's save() is not a database write.
ORM_WRITE = re.compile(
    r"(?<!storage)(?<!super\(\))\.(save|delete)\("
    r"|\.objects\.(create|get_or_create|update_or_create|bulk_create|bulk_update|update)\("
    r"|\)\.(update|delete)\("
    r"|\.(teachers|students|user_roles)\.(add|remove|set|clear)\("
)
# Where writes belong: each app's services (a module, or a package by topic) and its sheet
# module, the audit log's one writer, the job plumbing's bookkeeping of its own Job rows, the
# outbox's of its letters, the health stamps (its own ServiceBeat rows), the demo loader (run
# by `manage.py loaddemo` on a development machine) and migrations.
ALLOWED = {"services.py", "sheet.py", "audit.py", "jobs.py", "outbox.py", "health.py", "demo.py"}


@pytest.mark.parametrize("app", [*APPS, "cdt_portal"])
def test_no_other_module_of_an_app_writes_through_the_orm(app):
    root = Path(__file__).resolve().parent.parent / app
    offenders = []
    for path in sorted(root.rglob("*.py")):
        parts = set(path.parts)
        if {"migrations", "settings", "services"} & parts or path.name in ALLOWED:
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

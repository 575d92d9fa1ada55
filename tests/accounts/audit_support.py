"""What the audit tests of accounts share: the declarations of accounts' services (the one
list, read through tests/accounts/test_audit.py by tests/test_audit_coverage.py), the helpers
that read the entries written, and the fixtures.

The tests are split by topic: test_audit.py (a real call of every declared service and what
it writes, then the check of the whole declaration), test_audit_refusals.py (refusals that
write nothing), test_audit_roles.py (who may change whose roles, contacts and account) and
test_audit_imports.py (the staff import's refusals and its job's mishaps). Each module may run
in a process of its own (pytest-xdist, `--dist loadfile`), so none relies on another having
run: every module traces its own calls, test_audit.py proves the whole declaration from its
calls alone, and the other modules, through `observed` below, check when they are done what
any set of calls must meet: no service declared as writing nothing wrote an entry itself.
"""

import csv
import io

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db.models import Max
from django.test import RequestFactory
from huey.contrib.djhuey import HUEY

from accounts import services
from accounts.models import ImportBatch, Role
from cdt_portal import throttle
from cdt_portal.models import AuditEntry
from tests import audit_observer
from tests.factories import UserFactory

# Every public function of accounts/services.py that changes data, with the action it logs.
AUDITED_SERVICES = {
    "organisation_update": "organisation.updated",
    "profile_update": "profile.updated",
    "person_create": "person.created",
    "person_update": "person.updated",
    "user_set_roles": "person.roles.changed",
    "person_set_active": "person.deactivated",  # "person.activated" when switched back on
    "guardianship_link": "guardianship.linked",
    "guardianship_unlink": "guardianship.unlinked",
    "group_create": "group.created",
    "group_update": "group.updated",
    "group_set_link": "group.link_changed",
    "invitation_issue": "invitation.issued",
    # Its job issues the slips (at once in tests): one "invitation.issued" per slip, or one
    # "invitation.refused" for the whole refusal; the job's work alone is `invitation_slips_run`.
    "invitation_slips_start": "invitation.issued",
    "invitation_slips_run": "invitation.issued",
    "invitation_accept": "invitation.accepted",
    "import_upload": "import.uploaded",
    # Its job adds the people and logs the one entry (at once in tests), as the person who
    # pressed «Добавить»; the job's work on its own is `import_apply_run`.
    "import_apply_start": "import.applied",
    "import_apply_run": "import.applied",
    "import_cancel": "import.cancelled",
    "login_unlock": "person.login_unlocked",
    "invitations_email_start": "invitation.mailing.started",
    "invitation_mailing_retry": "invitation.mailing.started",
    # One entry per letter: "invitation.issued" when it is claimed, then its outcome
    # ("invitation.email_failed", "invitation.email_unconfirmed" when not sent).
    "invitation_mailing_run": "invitation.emailed",
    "import_check": "import.checked",
    "import_expire_abandoned": "import.expired",
    # The code a manager proves the mailbox with: its sending (tests/trust/).
    "invitation_code_run": "invitation.code_sent",
    # Puts a batch back to pending; a new preview (the file has errors now) is recorded.
    "import_apply_failed": "import.checked",
    # The superuser's changes in the Django admin ("admin.added" for a new object).
    "admin_saved": "admin.changed",
}
# What a refused role change records, in a transaction of its own (the change is not made).
REFUSAL_ACTIONS = (
    "person.roles.refused",
    "person.activation.refused",
    "person.login_unlock.refused",
    "invitation.email_failed",
    "invitation.email_unconfirmed",
    "invitation.email_withdrawn",
)
# Public functions that write no audit entry of their own, and why.
NOT_AUDITED = {
    "transliterate": "computes a username's letters",
    "username_base": "computes a username",
    "free_username": "finds a free username",
    "invitation_code_start": "starts the job that writes (`invitation_code_run`)",
    "stored_invitation_slips": "finds a stored sheet of slips",
    "invitation_slips_remove_old": "deletes sheets of slips older than an hour; changes no row",
}

LINK = "https://sferum.ru/?invite=abc123"
BASE_URL = "http://testserver/"


def mark() -> int:
    return AuditEntry.objects.aggregate(last=Max("pk"))["last"] or 0


def entries_since(since: int) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(pk__gt=since).order_by("pk"))


def only_entry_since(since: int) -> AuditEntry:
    entries = entries_since(since)
    assert len(entries) == 1, [e.action for e in entries]
    return entries[0]


def assert_entry(entry, *, actor, action, obj, organisation, data) -> None:
    assert entry.action == action
    assert entry.actor_id == (actor.pk if actor else None)
    assert entry.content_type == ContentType.objects.get_for_model(obj)
    assert entry.object_id == str(obj.pk)
    assert entry.organisation_id == organisation.pk
    assert entry.data == data


def staff_csv(*names: str) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows([["Ф.И.О."], *[[name] for name in names]])
    return out.getvalue().encode()


def upload(admin, content: bytes, role=Role.TEACHER) -> ImportBatch:
    return services.import_upload(
        organisation=admin.organisation,
        actor=admin,
        filename="staff.csv",
        content=content,
        role=role,
    )


def emailed_list() -> bytes:
    return "Ф.И.О.;E-mail\nЁлкина Алёна Петровна;elkina@example.ru\nО'Коннор Патрик;\n".encode()


def fail_sign_in(username: str, times: int) -> None:
    for _ in range(times):
        try:
            throttle.failed(RequestFactory().post("/accounts/login/"), username)
        except throttle.Throttled:
            pass


@pytest.fixture
def newcomer(organisation):
    person = UserFactory(
        organisation=organisation,
        username="novikova.ap",
        last_name="Новикова",
        first_name="Анна",
        patronymic="Петровна",
        email="novikova@example.ru",
        roles=[Role.TEACHER],
    )
    person.set_unusable_password()
    person.save()
    return person


@pytest.fixture
def queue_only(monkeypatch):
    """The queue takes the task but no worker runs it (yet)."""
    queued = []
    monkeypatch.setattr(HUEY, "enqueue", queued.append)
    return queued


# --- Tracing a module's calls ------------------------------------------------------------------


def assert_the_not_audited_wrote_nothing(observed: audit_observer.Observed) -> None:
    """The part of `audit_observer.assert_declarations_hold` that any set of calls meets."""
    wrote = {
        name: dict(observed.innermost[name]) for name in NOT_AUDITED if observed.innermost.get(name)
    }
    assert not wrote, f"{observed.app}: declared as writing no entry, but wrote: {wrote}"


@pytest.fixture(scope="module", autouse=True)
def observed():
    """Every audit entry the module's calls write, traced to the services that wrote it; once
    the module is done, none may be a service's declared as writing none. A module takes it
    with `observed = audit_support.observed` (test_audit.py keeps its own, and its last test
    checks the whole declaration)."""
    record, stop = audit_observer.observe("accounts")
    yield record
    stop()
    assert_the_not_audited_wrote_nothing(record)

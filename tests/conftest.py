"""Personas: one organisation with a person per role, an outsider from another one, and a
specialist of the department the organisation belongs to."""

import gc
from types import SimpleNamespace

import pytest
from django.core.cache import cache

from accounts.models import Role
from tests import migrated_copy, rendered_once
from tests.acknowledgements.builders import make_version
from tests.counts import (  # noqa: F401  (the hooks that print the counts)
    pytest_sessionfinish,
    pytest_terminal_summary,
    pytest_testnodedown,
)
from tests.e2e.shared_browser import SHARED as SHARED_BROWSER
from tests.factories import GuardianshipFactory, OrganisationFactory, StudyGroupFactory, UserFactory
from tests.families.builders import make_notice
from tests.onboarding.builders import make_ready_request


def pytest_configure(config):
    """Python's cycle collector at its defaults (700, 10, 10) ran a full collection over each
    test process's whole heap (Django, WeasyPrint, migration states) about 35 times a run, and
    took about a tenth of the test processes' CPU (measured with `gc.callbacks`). Looking at
    young objects every 10,000 allocations instead of every 700 makes full collections several
    times rarer; garbage in cycles is still freed, a little later. Test processes only."""
    gc.set_threshold(10_000, 10, 10)


@pytest.fixture(scope="session")
def migrated_copy_installed():
    with migrated_copy.installed():
        yield


@pytest.fixture(scope="session")
def django_db_setup(migrated_copy_installed, django_db_setup):
    """pytest-django's test database, copied from a kept migrated one on SQLite
    (tests/migrated_copy.py)."""
    return django_db_setup


@pytest.fixture(scope="session")
def live_server(django_db_setup, live_server):
    """pytest-django's server, started only once the test database exists. Started before it
    (a process whose first test asks for the server ahead of the database), the server saw the
    settings' in-memory SQLite name and shared the test thread's connection with its request
    threads: pages answered 500 («Cannot operate on a closed database») or the process died
    in SQLite. `tests/e2e/test_demo_copy.py::test_the_server_shares_no_connection` checks it."""
    return live_server


@pytest.fixture(autouse=True)
def empty_cache():
    """Counted numbers (`cdt_portal.numbers`) are keyed on database ids that a rolled-back test
    may hand out again: each test starts with none."""
    cache.clear()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Each test stores its files apart, so one test's files never answer for another's."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture(autouse=True)
def jobs_run_when_queued(request, monkeypatch):
    """Jobs in these tests run inline (huey's immediate mode) the moment they are queued,
    inside the test's own transaction, which never commits: that proves their logic. That
    they are queued only after the commit, picked up once and recovered after a kill is
    proven under the real worker (tests/jobs/). Tests whose transactions commit (transactional
    ones, the browser journeys, or marked `enqueue_on_commit`) keep the real `on_commit`."""
    marker = request.node.get_closest_marker("django_db")
    committing = (
        request.node.get_closest_marker("enqueue_on_commit") is not None
        or "transactional_db" in request.fixturenames
        or "live_server" in request.fixturenames
        or (marker is not None and marker.kwargs.get("transaction", False))
    )
    if not committing:
        monkeypatch.setattr("cdt_portal.jobs._after_commit", lambda callback: callback())


@pytest.fixture(autouse=True)
def documents_rendered_once(request, monkeypatch):
    """A document rendered again from the same input gets the bytes of its first render in
    this process (tests/rendered_once.py says why that is the real PDF); tests marked
    `renders_afresh` call WeasyPrint every time."""
    if request.node.get_closest_marker("renders_afresh") is None:
        monkeypatch.setattr("cdt_portal.pdf._write_pdf", rendered_once.write_pdf)


@pytest.fixture
def organisation(db):
    # Every name fixed, none from a factory sequence: the documents of one test's organisation
    # are then the same as the next test's, and are rendered once (tests/rendered_once.py).
    return OrganisationFactory(
        slug="cdt",
        full_name=(
            "Муниципальное казённое учреждение дополнительного образования "
            "«Центр детского творчества»"
        ),
        short_name="МКУ ДО «ЦДТ»",
    )


@pytest.fixture
def on_vk(organisation):
    """The organisation still on VK Мессенджер, set explicitly: a new organisation starts in
    MAX (issue 21), so a test about VK, or about a move from VK, asks for this."""
    from accounts.models import Messenger

    type(organisation).objects.filter(pk=organisation.pk).update(messenger=Messenger.VK)
    organisation.refresh_from_db()
    return organisation


@pytest.fixture
def director(organisation):
    return UserFactory(
        organisation=organisation, username="director", last_name="Денисенко",
        first_name="О.", patronymic="Б.", roles=[Role.DIRECTOR],
    )  # fmt: skip


@pytest.fixture
def admin(organisation):
    return UserFactory(
        organisation=organisation, username="admin", last_name="Захарова",
        first_name="Ольга", patronymic="Викторовна", roles=[Role.ADMIN, Role.TEACHER],
    )  # fmt: skip


@pytest.fixture
def teacher(organisation):
    return UserFactory(
        organisation=organisation, username="teacher", last_name="Иванова",
        first_name="Софья", patronymic="Николаевна", roles=[Role.TEACHER],
    )  # fmt: skip


@pytest.fixture
def student(organisation):
    return UserFactory(
        organisation=organisation, username="student", last_name="Кузнецов",
        first_name="Максим", patronymic="Андреевич", roles=[Role.STUDENT],
    )  # fmt: skip


@pytest.fixture
def parent(organisation, student):
    person = UserFactory(
        organisation=organisation, username="parent", last_name="Кузнецова",
        first_name="Елена", patronymic="Викторовна", roles=[Role.PARENT],
    )  # fmt: skip
    GuardianshipFactory(parent=person, student=student)
    return person


@pytest.fixture
def group(organisation, teacher, student):
    grp = StudyGroupFactory(organisation=organisation, name="Юный художник")
    grp.teachers.add(teacher)
    grp.students.add(student)
    return grp


@pytest.fixture
def other_organisation(db):
    return OrganisationFactory(slug="school2", short_name="МБОУ «СОШ № 2»")


@pytest.fixture
def outsider(other_organisation):
    """The platform administrator of another organisation."""
    return UserFactory(
        organisation=other_organisation, username="outsider", last_name="Чужой",
        first_name="Пётр", roles=[Role.ADMIN, Role.DIRECTOR, Role.TEACHER],
    )  # fmt: skip


@pytest.fixture
def superuser(db):
    return UserFactory(
        organisation=None, username="root", last_name="Суперпользователь", first_name="Портал",
        is_staff=True, is_superuser=True,
    )  # fmt: skip


@pytest.fixture
def department(organisation):
    """The education department the organisation belongs to (the outsider's does not)."""
    from accounts.models import Department

    dept = Department.objects.create(
        slug="uo", full_name="Управление образования администрации района",
        short_name="Управление образования",
    )  # fmt: skip
    organisation.department = dept
    organisation.save(update_fields=["department"])
    return dept


@pytest.fixture
def department_officer(department):
    """A specialist of the department: no organisation, the department role."""
    return UserFactory(
        organisation=None, department=department, username="department",
        last_name="Специалистова", first_name="Мария", roles=[Role.DEPARTMENT],
    )  # fmt: skip


@pytest.fixture
def personas(director, admin, teacher, student, parent, outsider, superuser, department_officer):
    return SimpleNamespace(
        director=director, admin=admin, teacher=teacher, student=student, parent=parent,
        outsider=outsider, superuser=superuser, department=department_officer,
    )  # fmt: skip


@pytest.fixture
def regulation(organisation, director, admin, teacher):
    """The approved regulation; the admin and the teacher are asked to read it."""
    return make_version(organisation, director, approve=True)


@pytest.fixture
def draft_version(regulation, director):
    return make_version(
        regulation.document.organisation, director, approve=False, number_text="7-О"
    )


@pytest.fixture
def ready_request(organisation, admin):
    return make_ready_request(organisation, admin)


@pytest.fixture
def notice(organisation, admin):
    return make_notice(organisation, admin)


def pytest_runtest_setup(item):
    # The browser journeys' one browser is closed before the first test that is not one
    # (tests/e2e/shared_browser.py): no other test runs beside Playwright's loop.
    SHARED_BROWSER.close_before(item.nodeid)

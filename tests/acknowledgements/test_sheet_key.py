"""The stored sheet is found by a key kept up to date by the services (issue 14): every change
to what the sheet prints gives a new key, an unchanged key names exactly the content the rows
build, and printing a stored sheet costs the same queries at every size."""

import datetime as dt

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from accounts import services as accounts_services
from accounts.models import Organisation, Role, User
from acknowledgements import sheet
from acknowledgements.models import DocumentVersion
from acknowledgements.services import (
    acknowledgement_confirm,
    acknowledgement_record_paper,
    version_edit,
    version_set_deadline,
)
from acknowledgements.sheet import sheet_prepare
from tests.factories import PASSWORD, UserFactory
from tests.helpers import pdf_reader


def fresh(version: DocumentVersion) -> DocumentVersion:
    return DocumentVersion.objects.select_related("document__organisation").get(pk=version.pk)


def lookup(version: DocumentVersion) -> sheet.SheetLookup:
    return sheet.sheet_lookup(fresh(version))


def recount_matches(version: DocumentVersion) -> bool:
    """The recount check: the content built from every row is what the key's index names."""
    stored = sheet.stored_content_key(lookup(version))
    return stored is not None and stored == sheet.sheet_plan(fresh(version)).content_key


@pytest.fixture
def stored(regulation, director, admin):
    """The admin confirmed online (so the sheet prints a time), then the sheet was built."""
    acknowledgement_confirm(
        version=regulation, person=admin, password=PASSWORD, ip_address=None, user_agent=""
    )
    sheet_prepare(version=fresh(regulation), blank=False, actor=director)
    found = lookup(regulation)
    assert sheet.stored_sheet(found) is not None
    return found


def rename(ctx):
    accounts_services.person_update(
        person=ctx.teacher, actor=ctx.director, last_name="Петренко",
        first_name=ctx.teacher.first_name, patronymic=ctx.teacher.patronymic,
        roles={Role.TEACHER},
    )  # fmt: skip


def new_position(ctx):
    accounts_services.person_update(
        person=ctx.teacher, actor=ctx.director, last_name=ctx.teacher.last_name,
        first_name=ctx.teacher.first_name, patronymic=ctx.teacher.patronymic,
        position="Методист", roles={Role.TEACHER},
    )  # fmt: skip


def deactivate(ctx):
    accounts_services.person_set_active(person=ctx.teacher, actor=ctx.director, active=False)


def remove_staff_role(ctx):
    accounts_services.user_set_roles(user=ctx.teacher, roles=set(), actor=ctx.admin)


def add_staff_role(ctx):
    accounts_services.user_set_roles(
        user=ctx.student, roles={Role.STUDENT, Role.TEACHER}, actor=ctx.admin
    )


def create_teacher(ctx):
    accounts_services.person_create(
        organisation=ctx.organisation, actor=ctx.admin, last_name="Новикова",
        first_name="Алла", roles={Role.TEACHER},
    )  # fmt: skip


def import_teachers(ctx):
    batch = accounts_services.import_upload(
        organisation=ctx.organisation, actor=ctx.admin, filename="staff.csv",
        content="Ф.И.О.\nЁлкина Алёна Петровна\n".encode(), role=Role.TEACHER,
    )  # fmt: skip
    job = accounts_services.import_apply_start(batch=batch, actor=ctx.admin)
    assert (job.status, job.done) == ("done", 1)


def confirm_online(ctx):
    acknowledgement_confirm(
        version=ctx.version, person=ctx.teacher, password=PASSWORD, ip_address=None, user_agent=""
    )


def record_paper(ctx):
    acknowledgement_record_paper(
        version=ctx.version, person=ctx.teacher, paper_date=dt.date(2023, 12, 4),
        recorded_by=ctx.admin,
    )  # fmt: skip


def organisation_field(field, value):
    def change(ctx):
        accounts_services.organisation_update(
            organisation=ctx.organisation, actor=ctx.admin, data={field: value}
        )

    change.__name__ = f"organisation_{field}"
    return change


CHANGES = [
    rename,
    new_position,
    deactivate,
    remove_staff_role,
    add_staff_role,
    create_teacher,
    import_teachers,
    confirm_online,
    record_paper,
    organisation_field("full_name", "Муниципальное учреждение «Новый центр»"),
    organisation_field("short_name", "МУ «НЦ»"),
    organisation_field("time_zone", "Asia/Yekaterinburg"),  # the admin's confirmation time
]


class Ctx:
    def __init__(self, **kw):
        self.__dict__.update(kw)


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: c.__name__)
def test_every_change_the_sheet_prints_gives_a_new_key(
    change, stored, regulation, organisation, director, admin, teacher, student
):
    before_content = sheet.stored_content_key(stored)
    ctx = Ctx(
        version=regulation, organisation=organisation, director=director, admin=admin,
        teacher=teacher, student=student,
    )  # fmt: skip
    change(ctx)
    after = lookup(regulation)
    assert after.key != stored.key
    assert after.job_key != stored.job_key
    # The old sheet is not served for the new key; the content really changed.
    assert sheet.stored_sheet(after) is None
    assert sheet.sheet_plan(fresh(regulation)).content_key != before_content
    # Built again, the new key names the content its rows build.
    job = sheet_prepare(version=fresh(regulation), blank=False, actor=director)
    assert job.status == "done"
    assert sheet.stored_sheet(lookup(regulation)) is not None
    assert recount_matches(regulation)


def test_changes_the_sheet_does_not_print_keep_the_key(
    stored, regulation, organisation, director, admin, teacher
):
    accounts_services.person_update(
        person=teacher, actor=director, last_name=teacher.last_name,
        first_name=teacher.first_name, patronymic=teacher.patronymic, roles={Role.TEACHER},
    )  # fmt: skip
    accounts_services.organisation_update(
        organisation=organisation, actor=admin, data={"address": "ул. Ленина, 1"}
    )
    version_set_deadline(
        version=regulation, actor=admin, read_by=dt.date.today() + dt.timedelta(days=7)
    )
    assert lookup(regulation).key == stored.key
    assert recount_matches(regulation)


def test_a_version_edit_raises_its_sheet_revision(draft_version, director):
    before = sheet.sheet_lookup(fresh(draft_version)).key
    version_edit(version=draft_version, actor=director, title="Положение о «Сферуме»")
    assert fresh(draft_version).sheet_revision == draft_version.sheet_revision + 1
    assert sheet.sheet_lookup(fresh(draft_version)).key != before


def test_approval_raises_the_sheet_revision(draft_version, director):
    from acknowledgements.services import version_approve

    version_approve(version=draft_version, actor=director)  # the job runs at once in tests
    approved = fresh(draft_version)
    assert (approved.status, approved.sheet_revision) == ("approved", 1)


def test_the_blank_and_the_filled_sheet_have_their_own_keys(stored, regulation):
    blank = sheet.sheet_lookup(fresh(regulation), blank=True)
    assert blank.key != stored.key
    assert sheet.stored_sheet(blank) is None


def test_unchanged_key_names_the_content_every_row_builds(stored, regulation, client, director):
    """The recount check: with the key unchanged, the content built from every row is the
    content stored, and the PDF served is that stored whole."""
    assert recount_matches(regulation)
    plan = sheet.sheet_plan(fresh(regulation))
    assert plan.key == stored.key
    with default_storage.open(plan.whole_path, "rb") as whole:
        expected = whole.read()
    client.force_login(director)
    response = client.get(reverse("regulation_sheet_pdf"))
    assert (response.status_code, response["Content-Type"]) == (200, "application/pdf")
    assert b"".join(response.streaming_content if response.streaming else [response.content]) == (
        expected
    )


def test_the_served_sheet_shows_a_rename_made_through_the_service(
    stored, regulation, client, director, teacher
):
    rename(Ctx(teacher=teacher, director=director))
    client.force_login(director)
    url = reverse("regulation_sheet_pdf")
    page = client.get(url)
    assert page["Content-Type"].startswith("text/html")  # not the stale stored sheet
    assert client.post(url)["Location"] == url
    pdf = client.get(url)
    text = " ".join(p.extract_text() for p in pdf_reader(pdf.content).pages)
    assert "Петренко Софья Николаевна" in " ".join(text.split())


def test_the_nightly_recount_drops_a_key_a_bypassing_change_made_stale(stored, regulation, teacher):
    """A change that bypassed the services (the Django admin) leaves the key as it was: the
    nightly cleanup's recount finds the index naming other content and removes it."""
    User.objects.filter(pk=teacher.pk).update(last_name="Мимосервисова")
    assert lookup(regulation).key == stored.key
    assert not recount_matches(regulation)
    sheet.remove_unreferenced_sheet_files()
    assert sheet.stored_content_key(stored) is None
    assert sheet.stored_sheet(lookup(regulation)) is None


def test_services_raise_the_counter_with_one_update(organisation, director, teacher):
    before = Organisation.objects.get(pk=organisation.pk).people_revision
    accounts_services.person_set_active(person=teacher, actor=director, active=False)
    accounts_services.person_set_active(person=teacher, actor=director, active=True)
    assert Organisation.objects.get(pk=organisation.pk).people_revision == before + 2


# --- the cost of printing a stored sheet -----------------------------------------------------


@pytest.mark.parametrize("staff", [3, 40])
def test_printing_a_stored_sheet_costs_the_same_queries_at_every_size(
    staff, organisation, regulation, director, client, django_assert_num_queries
):
    for n in range(staff - 2):  # the admin and the teacher are readers already
        UserFactory(organisation=organisation, last_name=f"Размерова{n:02d}", roles=["teacher"])
    sheet_prepare(version=fresh(regulation), blank=False, actor=director)
    client.force_login(director)
    url = reverse("regulation_sheet_pdf")
    client.get(url)  # the session is loaded once
    # The session, the person, their organisation and roles, the current version (with its
    # document and organisation): nothing that grows with the staff.
    with django_assert_num_queries(5):
        response = client.get(url)
    assert (response.status_code, response["Content-Type"]) == (200, "application/pdf")


def test_a_sheet_whose_files_are_gone_is_built_again(stored, regulation, director, client):
    """The job done for this key left nothing to serve (files removed, or the key's index
    dropped by the nightly recount): «Сформировать» builds it again instead of finding the old
    job done and leaving the page waiting for good."""
    from cdt_portal.models import Job

    for name in default_storage.listdir(sheet.SHEET_FOLDER)[1]:
        default_storage.delete(f"{sheet.SHEET_FOLDER}/{name}")
    assert sheet.stored_sheet(lookup(regulation)) is None
    assert Job.objects.get(key=stored.job_key).status == Job.Status.DONE
    client.force_login(director)
    url = reverse("regulation_sheet_pdf")
    started = client.post(url)
    assert (started.status_code, started["Location"]) == (302, url)
    response = client.get(url)
    assert (response.status_code, response["Content-Type"]) == (200, "application/pdf")
    assert Job.objects.filter(key=stored.job_key).count() == 1
    assert sheet.stored_sheet(lookup(regulation)) is not None

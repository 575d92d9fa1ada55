"""The administrator uploads a staff list, checks the preview and confirms (or cancels)."""

import csv
import io

import openpyxl
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from huey.contrib.djhuey import HUEY

from accounts import services as account_services
from accounts.models import ImportBatch, Role, User
from cdt_portal.jobs import QUEUE_DOWN
from cdt_portal.models import AuditEntry, Job

ROWS = [
    ["Ф.И.О.", "Должность", "E-mail", "Телефон"],
    ["Ёлкина Алёна Петровна", "педагог дополнительного образования", "", ""],
    ["Римская-Корсакова Мария Ивановна", "методист", "korsakova@example.ru", "+7 912 111-22-33"],
    ["О'Коннор Патрик", "концертмейстер", "", ""],
]


def as_csv(rows, encoding="utf-8", delimiter=",") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    return buffer.getvalue().encode(encoding)


def as_xlsx(rows) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(client, content: bytes, name="staff.csv", role="teacher"):
    return client.post(
        reverse("staff_import"), {"file": SimpleUploadedFile(name, content), "role": role}
    )


def imported_people(organisation) -> set[tuple]:
    return set(
        User.objects.filter(organisation=organisation, user_roles__role=Role.TEACHER)
        .exclude(username__in=["admin", "teacher", "outsider"])
        .values_list("last_name", "first_name", "patronymic", "position", "email", "phone")
    )


def test_utf8_cp1251_and_xlsx_give_the_same_people(client, admin, organisation):
    client.force_login(admin)
    results = []
    for content, name in [
        (as_csv(ROWS, "utf-8-sig", ";"), "staff.csv"),
        (as_csv(ROWS, "cp1251", ";"), "staff.csv"),
        (as_csv(ROWS, "utf-8", ","), "staff.csv"),
        (as_xlsx(ROWS), "staff.xlsx"),
    ]:
        response = upload(client, content, name)
        batch = ImportBatch.objects.latest("pk")
        assert response["Location"] == reverse("staff_import_preview", kwargs={"pk": batch.pk})
        preview = client.get(response["Location"]).content.decode()
        assert "Добавить 3" in preview
        client.post(response["Location"], {"confirm": "1"})
        results.append(imported_people(organisation))
        User.objects.filter(
            pk__in=User.objects.filter(last_name__in=["Ёлкина", "Римская-Корсакова", "О'Коннор"])
        ).delete()
    assert results[0] == results[1] == results[2] == results[3]
    assert (
        "Ёлкина",
        "Алёна",
        "Петровна",
        "педагог дополнительного образования",
        "",
        "",
    ) in results[0]


def test_the_filename_does_not_decide_the_format(client, admin, organisation):
    client.force_login(admin)
    for content, name in [(as_xlsx(ROWS), "staff.csv"), (as_csv(ROWS), "staff.xlsx")]:
        response = upload(client, content, name)
        assert "Добавить 3" in client.get(response["Location"]).content.decode()


def test_cancelling_an_applied_list_is_refused(client, admin, organisation):
    client.force_login(admin)
    response = upload(client, as_csv(ROWS))
    client.post(response["Location"], {"confirm": "1"})
    refused = client.post(response["Location"], {"cancel": "1"})
    assert refused["Location"] == response["Location"]
    page = client.get(refused["Location"]).content.decode()
    assert "уже загружен или отменён" in page
    assert ImportBatch.objects.get().status == ImportBatch.Status.APPLIED


def test_nothing_is_written_until_confirmed_and_cancel_adds_nobody(client, admin, organisation):
    client.force_login(admin)
    before = User.objects.count()
    response = upload(client, as_csv(ROWS))
    assert User.objects.count() == before
    client.post(response["Location"], {"cancel": "1"})
    assert User.objects.count() == before
    assert ImportBatch.objects.get().status == ImportBatch.Status.CANCELLED
    again = client.post(response["Location"], {"confirm": "1"}, follow=True)
    assert "уже загружен или отменён" in again.content.decode()
    assert User.objects.count() == before


def test_confirmed_people_get_no_password_and_the_chosen_role(client, admin, organisation):
    client.force_login(admin)
    response = upload(client, as_csv(ROWS), role="parent")
    client.post(response["Location"], {"confirm": "1"})
    people = User.objects.filter(last_name__in=["Ёлкина", "Римская-Корсакова", "О'Коннор"])
    assert people.count() == 3
    assert all(p.roles == {Role.PARENT} for p in people)
    assert not any(p.has_usable_password() for p in people)
    assert bytes(ImportBatch.objects.get().content) == b""  # the uploaded list is not kept
    assert people.get(last_name="Римская-Корсакова").phone.as_e164 == "+79121112233"


def test_reimporting_the_same_file_adds_nobody_twice(client, admin, organisation):
    client.force_login(admin)
    response = upload(client, as_csv(ROWS))
    client.post(response["Location"], {"confirm": "1"})
    count = User.objects.count()
    response = upload(client, as_csv(ROWS))
    page = client.get(response["Location"]).content.decode()
    assert "Уже есть в портале" in page and "Добавить" not in page
    client.post(response["Location"], {"confirm": "1"})
    assert User.objects.count() == count


def test_a_file_with_bad_rows_cannot_be_confirmed(client, admin, organisation):
    rows = [
        *ROWS,
        ["", "педагог", "", ""],
        ["Петров Пётр", '=HYPERLINK("http://x","y")', "", ""],
        ["Сидоров Иван", "", "не почта", "12345"],
    ]
    client.force_login(admin)
    response = upload(client, as_csv(rows))
    page = client.get(response["Location"]).content.decode()
    assert "Строки с ошибками" in page
    assert "Нет фамилии" in page
    assert "Формула в ячейке не допускается" in page
    assert "Неверный e-mail" in page
    assert "не российский мобильный номер" in page
    assert "Добавить" not in page
    before = User.objects.count()
    refused = client.post(response["Location"], {"confirm": "1"}, follow=True)
    assert "Ничего не добавлено" in refused.content.decode()
    assert User.objects.count() == before


def test_an_empty_file_is_told_before_anything_is_stored(client, admin):
    client.force_login(admin)
    response = upload(client, b"")
    assert response.status_code == 200
    assert "Файл пустой" in response.content.decode()
    assert not ImportBatch.objects.exists()


def test_whole_file_problems_are_told_on_the_preview_once_the_file_is_read(client, admin):
    """The file is read by a job (at once in tests): its problem is the preview page's answer,
    with no button to add anybody."""
    client.force_login(admin)
    for content, message in [
        (b"%PDF-1.4 not a table", "не похож на таблицу"),
        ("Ф.И.О.\n".encode(), "нет ни одной строки"),
        ("Должность;E-mail\nпедагог;a@b.ru\n".encode(), "столб"),
    ]:
        response = upload(client, content)
        batch = ImportBatch.objects.order_by("-pk").first()
        assert response.status_code == 302
        assert response["Location"] == f"/people/import/{batch.pk}/"
        page = client.get(response["Location"]).content.decode()
        assert message in page
        assert 'name="confirm"' not in page
        assert "Проверяем список" not in page
        assert message in ImportBatch.objects.get(pk=batch.pk).preview["error"]


def test_another_organisations_batch_is_404(client, admin, outsider):
    client.force_login(admin)
    response = upload(client, as_csv(ROWS))
    client.force_login(outsider)
    assert client.get(response["Location"]).status_code == 404
    assert client.post(response["Location"], {"confirm": "1"}).status_code == 404
    assert ImportBatch.objects.get().status == ImportBatch.Status.PENDING


def test_teachers_cannot_import(client, teacher):
    client.force_login(teacher)
    assert upload(client, as_csv(ROWS)).status_code == 403


def test_namesakes_get_distinct_usernames(client, admin, organisation):
    from tests.factories import UserFactory

    UserFactory(organisation=organisation, username="elkina.ap", last_name="Другая")
    rows = [["Ф.И.О."], ["Ёлкина Алёна Петровна"], ["Ёлкина Анна Павловна"]]
    client.force_login(admin)
    response = upload(client, as_csv(rows))
    client.post(response["Location"], {"confirm": "1"})
    usernames = sorted(User.objects.filter(last_name="Ёлкина").values_list("username", flat=True))
    assert usernames == ["elkina.ap2", "elkina.ap3"]


# --- Confirming: the people are added by a job ----------------------------------------------


def apply_jobs(batch) -> list[Job]:
    return list(Job.objects.filter(key=f"import-apply:{batch.pk}"))


def test_confirming_answers_at_once_and_a_job_adds_the_people_once_with_their_role(
    client, admin, organisation
):
    client.force_login(admin)
    response = upload(client, as_csv(ROWS), role="parent")
    batch = ImportBatch.objects.get()
    before = User.objects.count()
    confirmed = client.post(response["Location"], {"confirm": "1"})
    assert confirmed.status_code == 302
    assert confirmed["Location"] == f"/people/import/{batch.pk}/"
    people = User.objects.filter(last_name__in=["Ёлкина", "Римская-Корсакова", "О'Коннор"])
    assert User.objects.count() == before + 3 and people.count() == 3
    assert all(p.roles == {Role.PARENT} for p in people)
    [job] = apply_jobs(batch)
    assert (job.status, job.done, job.total, job.started_by) == ("done", 3, 3, admin)
    assert job.result_url == f"/people/import/{batch.pk}/"
    page = client.get(confirmed["Location"]).content.decode()
    assert "Добавлено: 3. Пригласите их в портал" in page
    assert 'name="confirm"' not in page and "data-job-url" not in page
    assert AuditEntry.objects.filter(action="import.applied").count() == 1

    again = client.post(confirmed["Location"], {"confirm": "1"}, follow=True)
    assert again.redirect_chain == [(f"/people/import/{batch.pk}/", 302)]
    assert "Этот список уже загружен или отменён." in again.content.decode()
    assert User.objects.count() == before + 3
    assert len(apply_jobs(batch)) == 1
    assert AuditEntry.objects.filter(action="import.applied").count() == 1


def test_while_the_job_runs_the_page_shows_its_progress_and_a_double_click_finds_it(
    client, admin, organisation, monkeypatch
):
    client.force_login(admin)
    response = upload(client, as_csv(ROWS))
    batch = ImportBatch.objects.get()
    queued = []
    monkeypatch.setattr(HUEY, "enqueue", queued.append)  # no worker takes it yet
    before = User.objects.count()
    first = client.post(response["Location"], {"confirm": "1"})
    second = client.post(response["Location"], {"confirm": "1"})
    assert first["Location"] == second["Location"] == f"/people/import/{batch.pk}/"
    [job] = apply_jobs(batch)
    assert len(queued) == 1 and job.status == "queued"
    page = client.get(first["Location"]).content.decode()
    assert "Добавляем людей из списка" in page
    assert f'data-job-url="/jobs/{job.pk}/"' in page and "data-job-finished" not in page
    assert 'name="confirm"' not in page and 'name="cancel"' not in page
    assert User.objects.count() == before

    account_services.import_apply_run(job_id=job.pk, batch_id=batch.pk)
    page = client.get(first["Location"]).content.decode()
    assert "Добавлено: 3." in page and User.objects.count() == before + 3


def test_queue_down_confirming_says_so_and_adds_nobody(client, admin, organisation, monkeypatch):
    client.force_login(admin)
    response = upload(client, as_csv(ROWS))
    batch = ImportBatch.objects.get()

    def refuse(task):
        raise OSError("unable to open database file")

    monkeypatch.setattr(HUEY, "enqueue", refuse)
    before = User.objects.count()
    refused = client.post(response["Location"], {"confirm": "1"}, follow=True)
    assert refused.redirect_chain == [(f"/people/import/{batch.pk}/", 302)]
    page = refused.content.decode()
    assert f"Люди не добавлены: {QUEUE_DOWN}" in page and "Добавить 3" in page
    assert ImportBatch.objects.get().status == ImportBatch.Status.PENDING
    assert [(job.status, job.message) for job in apply_jobs(batch)] == [("failed", QUEUE_DOWN)]
    assert User.objects.count() == before
    assert not AuditEntry.objects.filter(action="import.applied").exists()


def test_when_the_job_cannot_add_them_the_page_says_why_and_shows_the_list_again(
    client, admin, organisation, other_organisation
):
    from tests.factories import UserFactory

    client.force_login(admin)
    response = upload(client, as_csv(ROWS))
    UserFactory(organisation=other_organisation, username="taker", email="korsakova@example.ru")
    before = User.objects.count()
    client.post(response["Location"], {"confirm": "1"})
    assert User.objects.count() == before
    assert ImportBatch.objects.get().status == ImportBatch.Status.PENDING
    page = client.get(response["Location"]).content.decode()
    assert "Люди не добавлены: В списке есть строки с ошибками" in page
    assert "уже указан у другого человека на портале" in page
    assert 'name="confirm"' not in page and 'name="cancel"' in page

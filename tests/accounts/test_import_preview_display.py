"""The import preview shows how each name will be split and each phone as it will be printed,
says so when there is nobody to add, and follows the job that adds the people."""

import pytest
from huey.contrib.djhuey import HUEY

from accounts import services as account_services
from accounts.models import ImportBatch, User
from accounts.staff_import import preview_staff_import, stored_preview
from cdt_portal.templatetags.formatting import format_phone
from tests.accounts.test_staff_import_views import as_csv, upload
from tests.factories import UserFactory

ROWS = [
    ["Ф.И.О.", "Должность", "E-mail", "Телефон"],
    ["Алиев Рашид Мамед оглы", "педагог", "aliev@example.ru", "89123456789"],
    ["Ким Ен Сун", "концертмейстер", "", "+7 (912) 111-22-33"],
    ["Пак Ирина", "методист", "", ""],
]


def preview_page(client, response) -> str:
    page = client.get(response["Location"])
    assert page.status_code == 200
    return page.content.decode()


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        ("+79123456789", "+7 912 345-67-89"),
        ("89123456789", "+7 912 345-67-89"),
        ("+7 (912) 345 67 89", "+7 912 345-67-89"),
        ("", ""),
        (None, ""),
        ("12345", "12345"),  # not a number: shown as given, never dropped
    ],
)
def test_a_russian_mobile_is_printed_one_way(value, printed):
    assert format_phone(value) == printed


def test_a_phone_number_object_is_printed_the_same_way(organisation):
    person = UserFactory(organisation=organisation, phone="+79123456789")
    person.refresh_from_db()
    assert format_phone(person.phone) == "+7 912 345-67-89"


def test_the_stored_preview_keeps_the_split_of_each_name(organisation):
    stored = stored_preview(preview_staff_import(organisation=organisation, content=as_csv(ROWS)))
    names = [(r["last_name"], r["first_name"], r["patronymic"]) for r in stored["to_add_rows"]]
    assert names == [("Алиев", "Рашид", "Мамед оглы"), ("Ким", "Ен", "Сун"), ("Пак", "Ирина", "")]
    assert [r["phone"] for r in stored["to_add_rows"]] == ["+79123456789", "+79121112233", ""]


def test_the_preview_shows_the_split_and_the_printed_phones(client, admin, organisation):
    client.force_login(admin)
    response = upload(client, as_csv(ROWS))
    page = preview_page(client, response)
    assert "Фамилия / Имя / Отчество" in page
    assert "Алиев / Рашид / Мамед оглы" in page
    assert "Ким / Ен / Сун" in page
    assert "Пак / Ирина / —" in page
    assert "+7 912 345-67-89" in page and "+7 912 111-22-33" in page
    assert "+79123456789" not in page
    assert "Ожидает подтверждения." in page
    assert "Добавить 3" in page
    assert "Все уже есть в портале" not in page


def test_a_preview_stored_before_the_split_was_kept_shows_the_whole_name(
    client, admin, organisation
):
    client.force_login(admin)
    response = upload(client, as_csv(ROWS))
    batch = ImportBatch.objects.get()
    for row in batch.preview["to_add_rows"]:
        for key in ("last_name", "first_name", "patronymic"):
            del row[key]
    batch.save(update_fields=["preview"])
    page = preview_page(client, response)
    assert "Алиев Рашид Мамед оглы" in page and "Добавить 3" in page


def test_nothing_to_add_says_so_instead_of_offering_to_add(client, admin, organisation):
    client.force_login(admin)
    first = upload(client, as_csv(ROWS))
    client.post(first["Location"], {"confirm": "1"})
    again = upload(client, as_csv(ROWS))
    batch = ImportBatch.objects.latest("pk")
    assert batch.status == ImportBatch.Status.PENDING
    page = preview_page(client, again)
    assert "Все уже есть в портале." in page  # the status line
    assert "data-import-nothing-to-add" in page
    assert "Добавить" not in page and 'name="confirm"' not in page
    assert "Ожидает подтверждения" not in page
    assert "Закрыть список" in page
    closed = client.post(again["Location"], {"cancel": "1"})
    assert closed.status_code == 302
    assert ImportBatch.objects.get(pk=batch.pk).status == ImportBatch.Status.CANCELLED


def test_the_error_banners_are_alerts(client, admin, organisation):
    client.force_login(admin)
    bad = upload(client, as_csv([*ROWS, ["Сидоров Иван", "", "не почта", ""]]))
    page = preview_page(client, bad)
    assert '<div class="alert alert-danger" role="alert">В списке есть ошибки.' in page
    assert "Есть строки с ошибками." in page and "Ожидает подтверждения" not in page

    unreadable = upload(client, b"%PDF-1.4 not a table")
    page = preview_page(client, unreadable)
    assert '<div class="alert alert-danger" role="alert">Файл не похож на таблицу' in page
    assert "Файл не прочитан." in page


def test_the_page_follows_the_job_from_pending_to_applied(client, admin, organisation, monkeypatch):
    client.force_login(admin)
    response = upload(client, as_csv(ROWS))
    batch = ImportBatch.objects.get()
    assert batch.status == ImportBatch.Status.PENDING
    queued = []
    monkeypatch.setattr(HUEY, "enqueue", queued.append)  # no worker takes it yet
    client.post(response["Location"], {"confirm": "1"})
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.APPLYING
    page = preview_page(client, response)
    assert "Добавляются люди." in page and "data-import-applying" in page
    assert 'name="confirm"' not in page

    job = batch_job(batch)
    account_services.import_apply_run(job_id=job.pk, batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.APPLIED
    page = preview_page(client, response)
    assert "Загружен." in page and "Добавлено: 3." in page
    aliev = User.objects.get(last_name="Алиев")
    assert (aliev.first_name, aliev.patronymic, aliev.phone.as_e164) == (
        "Рашид",
        "Мамед оглы",
        "+79123456789",
    )


def batch_job(batch):
    from cdt_portal.models import Job

    return Job.objects.get(key=f"import-apply:{batch.pk}")

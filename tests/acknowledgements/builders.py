"""Documents and versions built through the services, as the portal builds them."""

import datetime as dt
from pathlib import Path

from django.conf import settings

from accounts.models import Messenger
from accounts.services import organisation_update
from acknowledgements.services import version_approve, version_create
from cdt_portal.models import Delivery

REGULATION_TEXT = """## 1. Общие положения

Текст первого раздела.

## 2. Регистрация на платформе

- первый пункт;
- второй пункт.
"""


def make_version(organisation, actor, *, approve: bool, number_text: str = "201-О"):
    """A version of the organisation's regulation (a draft, or approved when `approve`)."""
    version = version_create(
        organisation=organisation,
        actor=actor,
        title="Положение по использованию ИКОП «Сферум»",
        text=REGULATION_TEXT,
        order_number=number_text,
        order_date=dt.date(2023, 11, 30),
        approver_position="Директор",
        approver_name="О.Б. Денисенко",
    )
    if approve:
        version = version_approve(version=version, actor=actor)
    return version


# The regulation as the portal seeds it: it names VK Мессенджер.
SEED_TEXT = (
    Path(settings.BASE_DIR) / "acknowledgements" / "seed" / "regulation-201-O.txt"
).read_text(encoding="utf-8")


def approve_seed_regulation(organisation, director):
    """The approved regulation with the seed's text."""
    version = version_create(
        organisation=organisation,
        actor=director,
        title="Положение по использованию ИКОП «Сферум»",
        text=SEED_TEXT,
        order_number="201-О",
        order_date=dt.date(2023, 11, 30),
        approver_position="Директор",
        approver_name="О.Б. Денисенко",
    )
    return version_approve(version=version, actor=director)


def move_to_max(organisation, admin) -> None:
    """The organisation's messenger changed to MAX (dated now), as its settings page does."""
    organisation_update(organisation=organisation, actor=admin, data={"messenger": Messenger.MAX})
    organisation.refresh_from_db()


def fetch_sheet(client, url: str):
    """The sheet as a person gets it: a stored one at once; otherwise the page «Сформировать
    лист», whose POST starts the job and comes back to the same address (tests run jobs at
    once, so by then the sheet is stored and the address answers with the PDF)."""
    response = client.get(url)
    if response["Content-Type"].startswith("text/html"):
        assert response.status_code == 200, (url, response.status_code)
        button = "Сформировать бланк" if "blank=1" in url else "Сформировать лист ознакомления"
        assert button in response.content.decode()
        started = client.post(url)
        assert (started.status_code, started["Location"]) == (302, url)
        response = client.get(url)
    return response


def reminder_letters(run, people, status: str, **fields) -> list[Delivery]:
    """Letters of a reminder run in the outbox, as a run (or a worker that stopped) left them:
    one per person, in one insert."""
    organisation_id = run.version.document.organisation_id
    return Delivery.objects.bulk_create(
        [
            Delivery(
                batch=run.batch,
                kind=Delivery.Kind.REMINDER,
                organisation_id=organisation_id,
                person=person,
                email="" if status == Delivery.Status.NO_EMAIL else person.email,
                status=status,
                **fields,
            )
            for person in people
        ]
    )


def make_act(
    organisation,
    actor,
    *,
    approve: bool = True,
    title="Правила внутреннего трудового распорядка",
    **audience,
):
    """A local act other than the regulation (for all staff unless `audience` says otherwise),
    approved by `actor` when `approve`."""
    from acknowledgements.services import document_create

    version = document_create(
        organisation=organisation,
        actor=actor,
        title=title,
        kind="rules",
        audience=audience.pop("audience", "all"),
        text="## 1. Общие положения\n\nРаботники соблюдают правила.\n",
        order_number="15-О",
        order_date=dt.date(2026, 11, 2),
        approver_position="Директор",
        approver_name="О.Б. Денисенко",
        **audience,
    )
    if approve:
        version = version_approve(version=version, actor=actor)
    return version


def make_agreement(organisation, actor, *, approve: bool = True):
    """The organisation's agreement on the простая электронная подпись, from its default
    text, approved by `actor` when `approve`."""
    from acknowledgements.services import agreement_create

    version = agreement_create(
        organisation=organisation,
        actor=actor,
        order_number="16-О",
        order_date=dt.date(2026, 11, 2),
    )
    if approve:
        version = version_approve(version=version, actor=actor)
    return version

"""Documents and versions built through the services, as the portal builds them."""

import datetime as dt

from acknowledgements.services import version_approve, version_create

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


def fetch_sheet(client, url: str):
    """The sheet as a person gets it: a stored one at once; otherwise the page «Сформировать
    лист», whose POST starts the job and comes back to the same address (tests run jobs at
    once, so by then the sheet is stored and the address answers with the PDF)."""
    response = client.get(url)
    if response["Content-Type"].startswith("text/html"):
        assert response.status_code == 200, (url, response.status_code)
        assert "Сформировать лист ознакомления" in response.content.decode()
        started = client.post(url)
        assert (started.status_code, started["Location"]) == (302, url)
        response = client.get(url)
    return response

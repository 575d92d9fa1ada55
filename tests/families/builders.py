"""Notices and consents built as the portal builds them."""

import datetime as dt

from families.services import notice_publish
from tests.factories import PASSWORD

# The filled consent's child is nine or ten whatever the year the suite runs in: under 14, so
# the birth certificate below is also the child's identity document (a fixed date would turn
# the child 14 one day and every consent built here would need a passport).
CHILD_BORN = dt.date(dt.date.today().year - 10, 6, 2)
CERTIFICATE_ISSUED = CHILD_BORN + dt.timedelta(days=18)


def make_notice(organisation, actor):
    return notice_publish(
        organisation=organisation,
        actor=actor,
        text="Мы используем «Сферум». Подробности — в портале.",
    )


# A parent's consent form filled in as the law asks (152-ФЗ ст. 9 ч. 4): what the consent
# pages and tests post.
FILLED_CONSENT = {
    "parent_full_name": "Кузнецова Елена Викторовна",
    "parent_address": "г. Тверь, ул. Советская, д. 5, кв. 12",
    "id_document": "passport",
    "id_series": "2812",
    "id_number": "345678",
    "id_issued_on": "2015-03-17",
    "id_issued_by": "УМВД России по Тверской области",
    "child_full_name": "Кузнецов Максим Андреевич",
    "child_birth_date": CHILD_BORN.isoformat(),
    "child_address": "г. Тверь, ул. Советская, д. 5, кв. 12",
    "authority_document": "birth_certificate",
    "authority_series": "I-ОН",
    "authority_number": "654321",
    "authority_issued_on": CERTIFICATE_ISSUED.isoformat(),
    "authority_issued_by": "Отдел ЗАГС администрации г. Твери",
}
# The child's own passport, for a child of 14 or older, or a parent whose authority another
# document proves (without it, the birth certificate above is the child's identity document).
CHILD_PASSPORT = {
    "child_id_document": "passport",
    "child_id_series": "2820",
    "child_id_number": "556677",
    "child_id_issued_on": "2025-07-01",
    "child_id_issued_by": "УМВД России по Тверской области",
}


def give_consent(parent, student, *, details=None, ip_address=None):
    """The parent gives consent online with the password and the terms ticked: `details`, or
    every element of the form filled in (the form's strings as the services receive them
    after the form: dates as dates)."""
    from families.services import consent_give

    if details is None:
        details = {
            **FILLED_CONSENT,
            "id_issued_on": dt.date(2015, 3, 17),
            "child_birth_date": CHILD_BORN,
            "authority_issued_on": CERTIFICATE_ISSUED,
        }
    return consent_give(
        parent=parent,
        student=student,
        details=details,
        password=PASSWORD,
        terms_accepted=True,
        ip_address=ip_address,
    )


def consent_details_for(born):
    """A parent's consent filled in for a child born on `born`: the birth certificate under
    14, the child's passport from 14."""
    from django.utils import timezone

    from families.selectors import OWN_CONSENT_AGE, age_on

    details = {
        **FILLED_CONSENT,
        "id_issued_on": dt.date(2015, 3, 17),
        "child_birth_date": born,
        "authority_issued_on": born + dt.timedelta(days=18),
    }
    if age_on(born, timezone.localdate()) >= OWN_CONSENT_AGE:
        details |= {**CHILD_PASSPORT, "child_id_issued_on": dt.date(2025, 7, 1)}
    return details


def student_consent_details(birth_date):
    """A student's own consent filled in as the services receive it: their name, date of birth,
    address and passport."""
    import datetime as dt

    return {
        "full_name": "Кузнецов Максим Андреевич",
        "birth_date": birth_date,
        "address": "г. Тверь, ул. Советская, д. 5, кв. 12",
        "id_document": "passport",
        "id_series": "28 25",
        "id_number": "112233",
        "id_issued_on": dt.date(2025, 7, 1),
        "id_issued_by": "УМВД России по Тверской области",
    }


def give_own_consent(student, birth_date):
    """A student of 14 or older gives their own consent online, with the password and the terms
    ticked."""
    from families.services import student_consent_give

    return student_consent_give(
        student=student,
        details=student_consent_details(birth_date),
        password=PASSWORD,
        terms_accepted=True,
        ip_address=None,
    )


def years_ago(years: int, *, plus_days: int = 0):
    """The date of birth of someone who turned `years` old `plus_days` days ago."""
    from django.utils import timezone

    today = timezone.localdate()
    try:
        born = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        born = today.replace(year=today.year - years, day=28)
    import datetime as dt

    return born - dt.timedelta(days=plus_days)

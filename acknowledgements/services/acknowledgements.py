"""Acknowledgements of the version in force: confirmed online by the person (with their
password again), or recorded by the administrator from the signed paper sheet. One row per
(version, person), never edited; each changes what the sheet prints (`sheet.sheet_changed`)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Role, User
from cdt_portal.audit import log_action
from cdt_portal.errors import PortalError

from ..models import AckMethod, Acknowledgement, DocumentVersion, PaperOnly
from ..selectors import (
    agreement_state,
    counted_acknowledgement,
    counted_version_ids,
    is_reader,
)
from ..sheet import sheet_changed


def acknowledgement_confirm(
    *,
    version: DocumentVersion,
    person: User,
    password: str,
    ip_address: str | None,
    user_agent: str,
) -> tuple[Acknowledgement, bool]:
    """The person confirms online that they have read the version. Asks for the password
    again, so that the confirmation is theirs. Confirming twice changes nothing."""
    if not person.check_password(password):
        raise PortalError("Неверный пароль. Ознакомление не записано.", field="password")
    if person.organisation_id != version.document.organisation_id or not is_reader(
        person, version.document
    ):
        raise PortalError("Вас нет в списке сотрудников, которые знакомятся с документом.")
    basis = _online_basis(person, version)
    now = timezone.now()
    org_tz = version.document.organisation.time_zone
    with transaction.atomic():
        locked = DocumentVersion.objects.select_for_update().get(pk=version.pk)
        locked.require("confirm")
        existing = counted_acknowledgement(locked, person)
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                ack = Acknowledgement.objects.create(
                    version=locked,
                    person=person,
                    method=AckMethod.ONLINE,
                    acknowledged_on=timezone.localtime(now, zoneinfo.ZoneInfo(org_tz)).date(),
                    recorded_by=person,
                    ip_address=ip_address or None,
                    user_agent=user_agent[:500],
                    text_sha256=locked.text_sha256,
                    agreement=basis,
                )
        except IntegrityError:
            # A second click that raced this one (SQLite has no row locks) got there first.
            return Acknowledgement.objects.get(version=locked, person=person), False
        sheet_changed(locked.pk)
        data = {"person": person.pk, "version": locked.pk, "text_sha256": ack.text_sha256}
        if basis is not None:
            data["agreement"] = basis.pk
        if locked.document.is_agreement:
            # Accepting the agreement ends a refusal made earlier: online from now on.
            data["paper_only_ended"] = PaperOnly.objects.filter(person=person).delete()[0] > 0
        log_action(
            person,
            ack,
            "acknowledgement.confirmed",
            data,
            organisation_id=locked.document.organisation_id,
        )
    return ack, True


AGREEMENT_FIRST = (
    "Сначала примите «Соглашение об использовании простой электронной подписи»: без него "
    "подтверждение в портале не заменяет подпись на бумаге."
)
PAPER_ONLY = (
    "Вы отказались от простой электронной подписи: ознакомление записывает администратор по "
    "бумажному листу с вашей подписью. Передумали — примите соглашение."
)


def _online_basis(person: User, version: DocumentVersion) -> DocumentVersion | None:
    """The agreement version an online confirmation of `version` rests on, or a refusal.
    The agreement itself needs none. Where the organisation has no agreement in force yet, a
    confirmation is recorded without one (the sheet says so); once it has one, the person must
    have accepted that version (or one it only corrected editorially) first."""
    if version.document.is_agreement:
        return None
    state = agreement_state(person)
    if state.in_force is None:
        return None
    if state.accepted is None:
        raise PortalError(PAPER_ONLY if state.paper_only else AGREEMENT_FIRST)
    return state.accepted.version


def agreement_refuse(*, person: User, actor: User) -> PaperOnly:
    """The person refuses the agreement on the простая электронная подпись (or the
    administrator records their written refusal): «только на бумаге». Refusing twice changes
    nothing; a person who accepted the agreement in force cannot refuse it here (the
    acceptance stays: they ask the administrator)."""
    if actor.pk != person.pk and (
        not actor.has_role(Role.ADMIN) or actor.organisation_id != person.organisation_id
    ):
        raise PortalError(
            "Отказ от электронной подписи записывает сам сотрудник или администратор."
        )
    state = agreement_state(person)
    if state.in_force is None:
        raise PortalError("В организации нет утверждённого соглашения об электронной подписи.")
    with transaction.atomic():
        # The lock an acceptance takes (acknowledgement_confirm): a refusal and an acceptance
        # at the same instant run one after the other, and the later one sees the earlier
        # (tests/acknowledgements/test_agreement_race.py).
        locked = DocumentVersion.objects.select_for_update().get(pk=state.in_force.pk)
        if counted_acknowledgement(locked, person) is not None:
            raise PortalError(
                "Соглашение уже принято: отказаться от него можно заявлением на имя руководителя."
            )
        mark, created = PaperOnly.objects.get_or_create(
            person=person, defaults={"marked_by": actor}
        )
        if created:
            log_action(
                actor,
                person,
                "agreement.refused",
                {"person": person.pk, "agreement": state.in_force.pk},
                organisation_id=person.organisation_id,
            )
    return mark


def acknowledgement_record_paper(
    *,
    version: DocumentVersion,
    person: User,
    paper_date: dt.date,
    recorded_by: User,
) -> Acknowledgement:
    """The administrator records a signature made on the printed sheet."""
    if person.organisation_id != version.document.organisation_id:
        raise PortalError("Этот человек не работает в вашей организации.", field="person")
    if not is_reader(person, version.document):
        raise PortalError(
            "Этого человека нет в списке сотрудников, знакомящихся с документом.", field="person"
        )
    if paper_date > timezone.localdate():
        raise PortalError(
            "Дата на бумажном листе не может быть позже сегодняшней.", field="paper_date"
        )
    if paper_date < version.order_date:
        raise PortalError(
            f"Дата на бумажном листе не может быть раньше даты приказа "
            f"({version.order_date:%d.%m.%Y}).",
            field="paper_date",
        )
    already = f"{person.full_name} уже ознакомлен{person.gender_suffix} с этой редакцией."
    with transaction.atomic():
        locked = DocumentVersion.objects.select_for_update().get(pk=version.pk)
        locked.require("record_paper")
        if Acknowledgement.objects.filter(
            version__in=counted_version_ids(locked), person=person
        ).exists():
            raise PortalError(already, field="person")
        try:
            with transaction.atomic():
                ack = Acknowledgement.objects.create(
                    version=locked,
                    person=person,
                    method=AckMethod.PAPER,
                    acknowledged_on=paper_date,
                    recorded_by=recorded_by,
                    text_sha256=locked.text_sha256,
                )
        except IntegrityError as exc:
            raise PortalError(already, field="person") from exc
        sheet_changed(locked.pk)
        log_action(
            recorded_by,
            ack,
            "acknowledgement.paper_recorded",
            {"person": person.pk, "paper_date": paper_date, "recorded_by": recorded_by.pk},
            organisation_id=version.document.organisation_id,
        )
    return ack

"""Accepting and refusing the agreement on the простая электронная подпись at the same instant
(two tabs, or the person and the administrator), on PostgreSQL's row locks: the person ends up
either accepted or «только на бумаге», never both, and the audit log says which."""

from __future__ import annotations

import pytest

from accounts.models import Role, User
from acknowledgements.models import Acknowledgement, PaperOnly
from acknowledgements.services import agreement_refuse
from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry
from tests.acknowledgements.builders import make_agreement
from tests.acknowledgements.test_race import confirm_job, race_teachers
from tests.factories import OrganisationFactory, UserFactory
from tests.races import POSTGRES_RACES, run_together

pytestmark = POSTGRES_RACES


def refuse_job(person_pk: int, actor_pk: int):
    def job(ready):
        person = User.objects.get(pk=person_pk)
        actor = User.objects.get(pk=actor_pk)
        actor.roles  # noqa: B018
        ready()
        return agreement_refuse(person=person, actor=actor)

    return job


@pytest.fixture
def setting():
    organisation = OrganisationFactory()
    director = UserFactory(organisation=organisation, roles=[Role.DIRECTOR])
    admin = UserFactory(organisation=organisation, roles=[Role.ADMIN])
    return make_agreement(organisation, director), admin, race_teachers(organisation)


@pytest.mark.parametrize("refused_by", ["self", "admin"])
def test_accepting_and_refusing_at_once_leave_one_of_them(setting, refused_by):
    agreement, admin, teachers = setting
    for teacher in teachers:
        actor = teacher if refused_by == "self" else admin
        accepted, refused = run_together(
            confirm_job(agreement.pk, teacher.pk), refuse_job(teacher.pk, actor.pk)
        )
        assert accepted[1] is None, repr(accepted[1])  # accepting never fails here
        has_accepted = Acknowledgement.objects.filter(version=agreement, person=teacher).exists()
        paper_only = PaperOnly.objects.filter(person=teacher).exists()
        assert has_accepted and not paper_only, teacher.last_name
        confirmed = AuditEntry.objects.get(
            action="acknowledgement.confirmed", object_id=str(accepted[0][0].pk)
        )
        refusals = AuditEntry.objects.filter(
            action="agreement.refused", object_id=str(teacher.pk)
        ).count()
        if refused[1] is None:
            # The refusal came first; the acceptance then ended it, and says so.
            assert confirmed.data["paper_only_ended"] is True, teacher.last_name
            assert refusals == 1, teacher.last_name
        else:
            # The acceptance came first; the refusal was refused in one sentence.
            assert isinstance(refused[1], PortalError), repr(refused[1])
            assert "Соглашение уже принято" in refused[1].message
            assert confirmed.data["paper_only_ended"] is False, teacher.last_name
            assert refusals == 0, teacher.last_name

"""Ten «убрать» of one local act at the same moment (PostgreSQL): one removes it, with one
audit entry; the other nine answer 404 with a message, never a 500."""

from __future__ import annotations

from django.test import Client

from accounts.models import Role
from cdt_portal.models import AuditEntry
from onboarding.models import AmendmentItem
from tests.factories import OrganisationFactory, UserFactory
from tests.races import POSTGRES_RACES, run_together

pytestmark = POSTGRES_RACES


def test_ten_simultaneous_removals_remove_once_and_the_rest_are_404():
    organisation = OrganisationFactory()
    admin = UserFactory(organisation=organisation, roles=[Role.ADMIN])
    act = AmendmentItem.objects.create(organisation=organisation, title="Положение об ЭО и ДОТ")
    url = f"/onboarding/amendments/acts/{act.pk}/remove/"

    def press(ready):
        client = Client()
        client.force_login(admin)
        ready()
        response = client.post(url)
        return response.status_code, response.content.decode()

    outcomes = run_together(*[press] * 10)
    assert [error for _, error in outcomes] == [None] * 10
    statuses = sorted(status for (status, _), _ in outcomes)
    # Before the lock: 302 for the one that removed it; after it, 404 (the page's look-up or
    # the service's, whichever found it gone first).
    assert statuses == [302] + [404] * 9
    assert not AmendmentItem.objects.filter(pk=act.pk).exists()
    assert AuditEntry.objects.filter(action="amendment.act.removed").count() == 1

"""docs/architecture.md, «Departments»: nobody in an institution can grant the department role
(the superuser appoints the specialists in the Django admin), and a message goes to the
institutions under the department when it is sent (kept in `institutions`), so an institution
added later is not asked about an old message."""

from __future__ import annotations

import pytest
from django.core import mail

from accounts.models import Role, User
from accounts.services import user_set_roles
from cdt_portal.errors import PortalError
from departments import services
from departments.selectors import unread_messages
from tests.factories import OrganisationFactory, UserFactory


@pytest.mark.parametrize("granter", ["director", "admin"])
def test_nobody_in_an_institution_grants_the_department_role(request, granter, teacher):
    actor = request.getfixturevalue(granter)
    with pytest.raises(PortalError) as refused:
        user_set_roles(user=teacher, roles={Role.TEACHER, Role.DEPARTMENT}, actor=actor)
    assert refused.value.message.startswith("Вы не можете")
    assert User.objects.get(pk=teacher.pk).roles == {Role.TEACHER}


def test_an_institution_added_later_is_not_asked_about_an_old_message(
    client, department, department_officer, organisation, admin
):
    message = services.message_send(
        actor=department_officer, subject="Срок ознакомления", text="Завершите до 15.12."
    )
    assert list(message.institutions.all()) == [organisation]

    later = OrganisationFactory(slug="later", short_name="Новая школа", department=department)
    newcomer = UserFactory(
        organisation=later, email="newcomer@example.ru", roles=[Role.ADMIN, Role.TEACHER]
    )
    del mail.outbox[:]

    assert list(unread_messages(admin)) == [message]
    assert list(unread_messages(newcomer)) == []
    client.force_login(newcomer)
    assert client.post(f"/department-messages/{message.pk}/read/").status_code == 404
    assert "Срок ознакомления" not in client.get("/dashboard/").content.decode()
    client.force_login(admin)
    assert "Срок ознакомления" in client.get("/dashboard/").content.decode()
    assert mail.outbox == []  # nothing was sent to the newcomer afterwards either
    assert list(message.institutions.all()) == [organisation]

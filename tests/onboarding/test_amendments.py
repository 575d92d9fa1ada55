"""§5.1 of the regulation: the checklist of the local acts and additional programmes the
institution amends. Each group's programme is an item read as «to do» until its first change
stores a row; local acts are named by the administrator; every change is audited."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry
from onboarding import services
from onboarding.models import AmendmentItem, AmendmentState
from onboarding.selectors import amendment_checklist, amendment_summary
from tests.factories import StudyGroupFactory
from tests.onboarding.test_audit import Audit, assert_entry

PAGE = "/onboarding/amendments/"
TODAY = timezone.localdate


def programme_url(group) -> str:
    return reverse("amendment_programme", kwargs={"pk": group.pk})


def act_url(item, suffix="") -> str:
    return reverse("amendment_act_update", kwargs={"pk": item.pk}) + suffix


def test_the_urls_are_the_documented_ones(group):
    assert reverse("amendments") == PAGE
    assert programme_url(group) == f"/onboarding/amendments/groups/{group.pk}/"
    assert reverse("amendment_act_add") == "/onboarding/amendments/acts/new/"


def test_each_group_is_an_item_to_do_without_a_row(client, admin, group):
    client.force_login(admin)
    response = client.get(PAGE)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Дополнительная программа «Юный художник»" in page
    assert not AmendmentItem.objects.exists()  # nothing is written by opening the page
    [row] = amendment_checklist(admin.organisation)
    assert (row.kind, row.item, row.state) == ("programme", None, AmendmentState.TODO)
    summary = amendment_summary(admin.organisation)
    assert (summary.done, summary.total) == (0, 1)


def test_the_admin_marks_a_programme_amended(client, admin, group):
    client.force_login(admin)
    audit = Audit()
    response = client.post(
        programme_url(group),
        {"state": "amended", "amended_on": f"{TODAY():%Y-%m-%d}", "note": "приказ № 5"},
    )
    assert response.status_code == 302
    assert response["Location"] == PAGE
    item = AmendmentItem.objects.get()
    assert (item.organisation, item.group, item.title) == (admin.organisation, group, "")
    assert (item.state, item.amended_on, item.note) == ("amended", TODAY(), "приказ № 5")
    assert_entry(
        audit.only(),
        actor=admin,
        action="amendment.updated",
        obj=item,
        organisation=admin.organisation,
        data={
            "state": ["todo", "amended"],
            "amended_on": [None, str(TODAY())],
            "note": ["", "приказ № 5"],
        },
    )
    summary = amendment_summary(admin.organisation)
    assert (summary.done, summary.total) == (1, 1)

    # back to «to do»: the date goes, the same row changes
    audit = Audit()
    client.post(programme_url(group), {"state": "todo", "amended_on": "", "note": "приказ № 5"})
    item.refresh_from_db()
    assert (item.state, item.amended_on) == ("todo", None)
    assert AmendmentItem.objects.count() == 1
    assert audit.only().data == {"state": ["amended", "todo"], "amended_on": [str(TODAY()), None]}


def test_amended_without_a_date_is_today_and_a_future_date_is_refused(admin, group):
    item = services.amendment_programme_update(
        group=group, actor=admin, state="amended", amended_on=None
    )
    assert item.amended_on == TODAY()
    audit = Audit()
    with pytest.raises(PortalError, match="не может быть позже сегодняшней"):
        services.amendment_programme_update(
            group=group,
            actor=admin,
            state="amended",
            amended_on=TODAY() + dt.timedelta(days=1),
        )
    item.refresh_from_db()
    assert item.amended_on == TODAY()
    assert audit.new() == []


def test_saving_nothing_new_writes_nothing(admin, group):
    audit = Audit()
    services.amendment_programme_update(group=group, actor=admin, state="todo", amended_on=None)
    assert not AmendmentItem.objects.exists()
    assert audit.new() == []


def test_an_unknown_state_is_refused(client, admin, group):
    client.force_login(admin)
    response = client.post(programme_url(group), {"state": "done"}, follow=True)
    assert response.redirect_chain == [(PAGE, 302)]
    assert "Не сохранено" in response.content.decode()
    assert not AmendmentItem.objects.exists()
    with pytest.raises(PortalError, match="Неизвестное состояние"):
        services.amendment_programme_update(group=group, actor=admin, state="x", amended_on=None)


def test_local_acts_are_added_updated_and_removed(client, admin):
    client.force_login(admin)
    audit = Audit()
    response = client.post(reverse("amendment_act_add"), {"title": "  Положение  об ЭО "})
    assert response["Location"] == PAGE
    item = AmendmentItem.objects.get()
    assert (item.title, item.group, item.state) == ("Положение об ЭО", None, "todo")
    assert_entry(
        audit.only(),
        actor=admin,
        action="amendment.act.added",
        obj=item,
        organisation=admin.organisation,
        data={"title": "Положение об ЭО"},
    )

    # the same name again is refused
    audit = Audit()
    page = client.post(
        reverse("amendment_act_add"), {"title": "положение об эо"}, follow=True
    ).content.decode()
    assert "Такой локальный акт уже есть в списке." in page
    assert AmendmentItem.objects.count() == 1 and audit.new() == []

    audit = Audit()
    response = client.post(act_url(item), {"state": "amended", "amended_on": "", "note": ""})
    assert response["Location"] == PAGE
    item.refresh_from_db()
    assert (item.state, item.amended_on) == ("amended", TODAY())
    assert audit.only().action == "amendment.updated"
    summary = amendment_summary(admin.organisation)
    assert (summary.done, summary.total) == (1, 1)

    audit = Audit()
    response = client.post(reverse("amendment_act_remove", kwargs={"pk": item.pk}))
    assert response["Location"] == PAGE
    assert not AmendmentItem.objects.exists()
    assert_entry(
        audit.only(),
        actor=admin,
        action="amendment.act.removed",
        obj=item,
        organisation=admin.organisation,
        data={
            "title": "Положение об ЭО",
            "state": "amended",
            "amended_on": str(TODAY()),
            "note": "",
        },
    )


def test_an_empty_title_is_refused(client, admin):
    client.force_login(admin)
    page = client.post(reverse("amendment_act_add"), {"title": " "}, follow=True)
    assert "Укажите название локального акта." in page.content.decode()
    assert not AmendmentItem.objects.exists()
    with pytest.raises(PortalError, match="Укажите название"):
        services.amendment_act_add(organisation=admin.organisation, actor=admin, title="  ")


def test_a_programme_item_is_not_an_act(client, admin, group):
    item = services.amendment_programme_update(
        group=group, actor=admin, state="amended", amended_on=None
    )
    client.force_login(admin)
    assert client.post(act_url(item), {"state": "todo"}).status_code == 404
    assert client.post(act_url(item, "remove/")).status_code == 404
    assert AmendmentItem.objects.get().state == "amended"


def test_the_director_reads_and_may_not_change(client, director, admin, group):
    item = services.amendment_act_add(organisation=admin.organisation, actor=admin, title="Устав")
    client.force_login(director)
    page = client.get(PAGE).content.decode()
    assert "Устав" in page and "Юный художник" in page
    assert "Сохранить" not in page and "Добавить локальный акт" not in page
    assert client.post(programme_url(group), {"state": "amended"}).status_code == 403
    assert client.post(reverse("amendment_act_add"), {"title": "x"}).status_code == 403
    assert client.post(act_url(item), {"state": "amended"}).status_code == 403
    assert client.post(act_url(item, "remove/")).status_code == 403
    assert AmendmentItem.objects.count() == 1


@pytest.mark.parametrize("who", ["teacher", "student", "parent"])
def test_other_roles_may_not_open_the_checklist(client, who, request):
    client.force_login(request.getfixturevalue(who))
    assert client.get(PAGE).status_code == 403


def test_another_organisations_objects_are_404(client, outsider, admin, group):
    item = services.amendment_act_add(organisation=admin.organisation, actor=admin, title="Устав")
    client.force_login(outsider)
    assert client.post(programme_url(group), {"state": "amended"}).status_code == 404
    assert client.post(act_url(item), {"state": "amended"}).status_code == 404
    assert client.post(act_url(item, "remove/")).status_code == 404
    page = client.get(PAGE).content.decode()
    assert "Устав" not in page and "Юный художник" not in page
    assert AmendmentItem.objects.get().state == "todo"
    assert not AuditEntry.objects.filter(actor=outsider).exists()


def test_the_dashboard_partial_counts(client, admin, group):
    StudyGroupFactory(organisation=admin.organisation, name="Робототехника")
    services.amendment_programme_update(group=group, actor=admin, state="amended", amended_on=None)
    services.amendment_act_add(organisation=admin.organisation, actor=admin, title="Устав")
    html = render_to_string(
        "onboarding/_dashboard_checklist.html",
        {"amendments_summary": amendment_summary(admin.organisation)},
    )
    assert "1 из 3" in html
    assert PAGE in html

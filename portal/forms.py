from __future__ import annotations

from django import forms
from django.contrib.contenttypes.models import ContentType

from accounts.models import User
from cdt_portal.audit import action_label, actions, object_types


class AuditFilterForm(forms.Form):
    """The audit page's filters; every one optional. Bad values are told, not ignored."""

    # A name to search for, not a list of everyone: an organisation may have 50,000 people.
    who = forms.CharField(label="Кто (Ф.И.О.)", required=False, max_length=100)
    # One exact person, as the links from a person's page give it (not shown as a field).
    person = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, widget=forms.HiddenInput
    )
    object_type = forms.ModelChoiceField(
        label="Объект", queryset=ContentType.objects.none(), required=False, empty_label="Все"
    )
    object_id = forms.CharField(label="Номер объекта", required=False, max_length=64)
    action = forms.ChoiceField(label="Действие", required=False)
    date_from = forms.DateField(label="С даты", required=False)
    date_to = forms.DateField(label="По дату", required=False)

    def __init__(self, *args, organisation_id: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = User.objects.filter(organisation_id=organisation_id)
        types = object_types(organisation_id)
        self.fields["object_type"].queryset = ContentType.objects.filter(
            pk__in=[ct.pk for ct in types]
        )
        self.fields["object_type"].label_from_instance = lambda ct: str(
            ct.model_class()._meta.verbose_name if ct.model_class() else ct
        ).capitalize()
        self.fields["action"].choices = [
            ("", "Все"),
            *sorted(((a, action_label(a)) for a in actions(organisation_id)), key=lambda c: c[1]),
        ]

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "Дата «по» раньше даты «с».")
        if data.get("object_id") and not data.get("object_type"):
            self.add_error("object_id", "Выберите вид объекта.")
        return data

    def filters(self) -> dict:
        data = self.cleaned_data
        return {
            "actor_id": data["person"].pk if data.get("person") else None,
            "actor_name": (data.get("who") or "").strip(),
            "content_type": data.get("object_type"),
            "object_id": data.get("object_id") or "",
            "action": data.get("action") or "",
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
        }

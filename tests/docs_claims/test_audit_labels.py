"""docs/architecture.md, «The audit log»: apps give each action a Russian label
(`register_actions` in their `AppConfig.ready()`), so the audit page never shows a bare
`dotted.name`. For every app: the action each service declares it writes (`tests/<app>/
test_audit.py`), and every action the onboarding, families and portal apps name in their
`actions` modules, including each state the registration request can reach."""

from __future__ import annotations

import importlib
import re

import pytest

from cdt_portal.audit import ACTION_LABELS, action_label
from families import actions as family_actions
from onboarding import actions as rollout_actions
from onboarding.models import RequestStatus
from portal import actions as portal_actions

APPS = ["accounts", "signin", "acknowledgements", "families", "onboarding", "departments", "portal"]
DOTTED = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")
CYRILLIC = re.compile("[А-Яа-яЁё]")


def named_actions(module) -> set[str]:
    return {
        value
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, str) and DOTTED.match(value)
    }


def assert_labelled(actions: set[str]) -> None:
    unlabelled = sorted(a for a in actions if not CYRILLIC.search(action_label(a)))
    assert unlabelled == []


@pytest.mark.parametrize("app", APPS)
def test_every_declared_action_has_a_russian_label(app):
    declared = importlib.import_module(f"tests.{app}.test_audit").AUDITED_SERVICES
    assert declared
    assert_labelled(set(declared.values()))


def test_every_named_action_of_the_rollout_the_families_and_the_portal_has_a_russian_label():
    actions = named_actions(rollout_actions) | named_actions(family_actions)
    actions |= named_actions(portal_actions)
    actions |= {rollout_actions.request_action(status) for status in RequestStatus.values}
    assert len(actions) > 20
    assert_labelled(actions)
    assert actions <= set(ACTION_LABELS)

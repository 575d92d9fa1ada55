"""A notice the parent has confirmed folds away on the family page (it took a phone's whole
screen above «Мои дети» on every visit); an unconfirmed one is shown open with its button."""

from __future__ import annotations

import re

from django.urls import reverse

from families.services import notice_confirm


def test_a_confirmed_notice_folds_and_an_unconfirmed_one_is_open(client, parent, notice):
    client.force_login(parent)
    text = client.get(reverse("family_home")).content.decode()
    assert "notice-read" not in text
    assert reverse("notice_confirm") in text

    notice_confirm(notice=notice, parent=parent)
    text = client.get(reverse("family_home")).content.decode()
    folded = re.search(
        r'<details class="notice-read"><summary>Текст уведомления</summary>'
        r'<div class="regulation-text small mt-2">(.*?)</div></details>',
        text,
        re.S,
    )
    assert folded is not None and notice.text.split()[0] in folded.group(1)
    assert reverse("notice_confirm") not in text

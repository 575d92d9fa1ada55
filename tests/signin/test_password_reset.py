"""Finding 11: the reset answered in 70 ms for a known address and 16 ms for an unknown one.
Timing is not measured in a test; the work is: the same templates rendered, the same message
built, the same queries run, whether or not the address belongs to somebody."""

from django.core import mail
from django.db import connection
from django.test.signals import template_rendered
from django.test.utils import CaptureQueriesContext
from django.urls import reverse


def reset_work(client, email):
    rendered = []

    def record(sender, template, context, **kwargs):
        rendered.append(template.name)

    template_rendered.connect(record)
    try:
        with CaptureQueriesContext(connection) as queries:
            response = client.post(reverse("password_reset"), {"email": email})
    finally:
        template_rendered.disconnect(record)
    return response, rendered, len(queries)


def test_known_and_unknown_addresses_do_the_same_work(client, teacher):
    teacher.email = "teacher@example.ru"
    teacher.save()
    # A first request warms what is loaded once per process (templates, content types).
    reset_work(client, "warm-up@example.ru")
    mail.outbox.clear()

    known, known_templates, known_queries = reset_work(client, "Teacher@example.ru")
    unknown, unknown_templates, unknown_queries = reset_work(client, "nobody@example.ru")

    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == reverse("password_reset_done")
    assert known_templates == unknown_templates
    assert {
        "signin/emails/password_reset_subject.txt",
        "signin/emails/password_reset.txt",
        "signin/emails/password_reset.html",
    } <= set(known_templates)
    assert known_queries == unknown_queries
    # Only the known address gets a message, from the portal by its name.
    assert [message.to for message in mail.outbox] == [["teacher@example.ru"]]
    short_name = teacher.organisation.short_name
    assert mail.outbox[0].from_email.startswith(f'"Портал {short_name} по внедрению')


def test_an_inactive_persons_address_is_treated_as_unknown(client, teacher):
    teacher.email = "teacher@example.ru"
    teacher.is_active = False
    teacher.save()
    reset_work(client, "warm-up@example.ru")
    _, inactive_templates, inactive_queries = reset_work(client, "teacher@example.ru")
    _, unknown_templates, unknown_queries = reset_work(client, "nobody@example.ru")
    assert (inactive_templates, inactive_queries) == (unknown_templates, unknown_queries)
    assert mail.outbox == []

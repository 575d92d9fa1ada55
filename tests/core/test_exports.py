"""The CSV export streams: each row is formatted when the client reads it, never all at once."""

from __future__ import annotations

import csv
import io

from cdt_portal.exports import csv_response


def test_rows_are_read_only_as_the_response_is_read():
    taken = []

    def rows():
        for n in range(10_000):
            taken.append(n)
            yield [f"Фамилия{n}", "=1+1"]

    response = csv_response("Список.csv", ["Ф.И.О.", "Формула"], rows())
    assert response.streaming
    assert taken == []  # nothing is read before the client asks
    chunks = iter(response.streaming_content)
    assert next(chunks) == "\ufeffФ.И.О.;Формула\r\n".encode()
    assert next(chunks) == "Фамилия0;'=1+1\r\n".encode()
    assert taken == [0]
    rest = b"".join(chunks).decode("utf-8")
    assert len(list(csv.reader(io.StringIO(rest), delimiter=";"))) == 9_999
    assert taken == list(range(10_000))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename*=utf-8''")


def test_the_acknowledgement_export_reads_its_rows_only_while_it_is_sent(
    client, admin, teacher, regulation
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(admin)
    with CaptureQueriesContext(connection) as answered:
        response = client.get("/regulation/acknowledgements.csv")
    assert response.status_code == 200 and response.streaming
    # Nothing of the people was read to answer: the first byte does not wait for 10,000 rows.
    assert not any('FROM "accounts_user"' in q["sql"] and "ORDER BY" in q["sql"]
                   for q in answered.captured_queries)  # fmt: skip
    with CaptureQueriesContext(connection) as sent:
        body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert any("acknowledgements_acknowledgement" in q["sql"] for q in sent.captured_queries)
    assert [line.split(";")[1] for line in body.splitlines()[1:]] == [
        admin.full_name, teacher.full_name,
    ]  # fmt: skip

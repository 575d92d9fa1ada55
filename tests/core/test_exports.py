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

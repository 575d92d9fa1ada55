"""Parsing ids from a query or a form without ever raising: a value that is not a plain
number a database id could be is no id at all."""

from __future__ import annotations

# The largest value of a PostgreSQL bigint (Django's BigAutoField). A larger number in a
# filter ends in "integer out of range" on PostgreSQL, a 500; SQLite let it through.
MAX_ID = 2**63 - 1


def parse_id(value: object) -> int | None:
    """`value` as a positive database id, or None. `str.isdigit` is not enough: it accepts
    «²» and «١», which `int()` then refuses or turns into another number."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or not value.isascii() or not value.isdecimal() or len(value) > 19:
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None

import hashlib

from django.core.paginator import Page, Paginator
from django.db.models import Q
from django.http import HttpRequest

from .numbers import counted_once

PAGE_SIZE = 50


class _CountedPaginator(Paginator):
    """A paginator told its count instead of counting."""

    def __init__(self, items, per_page: int, count: int) -> None:
        super().__init__(items, per_page)
        self._known_count = count

    @property
    def count(self) -> int:
        return self._known_count


def paginate(
    request: HttpRequest,
    items,
    per_page: int = PAGE_SIZE,
    *,
    organisation_id: int | None = None,
    page_param: str = "page",
) -> dict:
    """A page of `items` and the query string that keeps the list's filters across pages
    (`page_param` names the page number, for a second list on the same page).

        With `organisation_id`, the number of items (a COUNT over every person, at 50,000 people
        the page's biggest cost) is counted once per change of the organisation and filter
        (`numbers.counted_once`)."""
    params = request.GET.copy()
    params.pop(page_param, None)
    query = params.urlencode()
    if organisation_id is None:
        paginator = Paginator(items, per_page)
    else:
        name = hashlib.sha256(f"{request.path}?{query}".encode()).hexdigest()[:32]
        paginator = _CountedPaginator(
            items, per_page, counted_once(organisation_id, f"count:{name}", items.count)
        )
    page: Page = paginator.get_page(request.GET.get(page_param))
    return {"page_obj": page, "query_string": f"{query}&" if query else ""}


def contains_any_case(field: str, word: str):
    """Case-insensitive «contains» that also holds for Cyrillic on SQLite, whose LIKE folds
    only ASCII letters: the usual spellings of the word are tried."""
    spellings = {word, word.lower(), word.upper(), word.capitalize()}
    condition = Q()
    for spelling in spellings:
        condition |= Q(**{f"{field}__icontains": spelling})
    return condition


def search_people(queryset, query: str, prefix: str = ""):
    """Every word of the query must match a part of the Ф.И.О. (or the position, or e-mail)."""
    for word in query.split():
        condition = contains_any_case(f"{prefix}last_name", word)
        for field in ("first_name", "patronymic", "position", "email"):
            condition |= contains_any_case(f"{prefix}{field}", word)
        queryset = queryset.filter(condition)
    return queryset

from django.core.paginator import Page, Paginator
from django.db.models import Q
from django.http import HttpRequest

PAGE_SIZE = 50


def paginate(request: HttpRequest, items, per_page: int = PAGE_SIZE) -> dict:
    """A page of `items` and the query string that keeps the list's filters across pages."""
    page: Page = Paginator(items, per_page).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    query = params.urlencode()
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

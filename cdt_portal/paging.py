from django.core.paginator import Page, Paginator
from django.http import HttpRequest

PAGE_SIZE = 50


def paginate(request: HttpRequest, items, per_page: int = PAGE_SIZE) -> dict:
    """A page of `items` and the query string that keeps the list's filters across pages."""
    page: Page = Paginator(items, per_page).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    query = params.urlencode()
    return {"page_obj": page, "query_string": f"{query}&" if query else ""}

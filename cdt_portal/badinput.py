"""Bad input refused at the door: a NUL byte anywhere in a query or form.

PostgreSQL cannot store or even compare a text with a NUL character ("A string literal
cannot contain NUL (0x00) characters"), so `?q=%00` reached a queryset and ended in a 500
there, while SQLite let it through. No form of the portal has a use for the character, so
one check here answers every page the same way: 400 with a Russian message, nothing read
from the database and nothing written.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.html import escape

NUL = "\x00"
MESSAGE = (
    "В запросе есть недопустимый символ (нулевой байт). Проверьте, что вы ввели, "
    "и попробуйте ещё раз."
)
BROKEN_FORM = "Форма пришла повреждённой. Обновите страницу и отправьте её ещё раз."


def _has_nul(data) -> bool:
    return any(NUL in key or any(NUL in value for value in values) for key, values in data.lists())


# A page of its own, not the site's layout: this answers before sessions and sign-in are
# read, so nothing here may depend on them.
PAGE = (
    '<!doctype html><html lang="ru"><head><meta charset="utf-8">'
    "<title>Неверный запрос</title></head><body><h1>Неверный запрос</h1><p>{message}</p>"
    '<p><a href="/">На главную</a></p></body></html>'
)


def bad_request(request: HttpRequest, message: str) -> HttpResponse:
    return HttpResponse(
        PAGE.format(message=escape(message)), status=400, content_type="text/html; charset=utf-8"
    )


class RejectBadInputMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request.GET):
            return bad_request(request, MESSAGE)
        if request.method == "POST":
            try:
                post = request.POST
            except MultiPartParserError:
                return bad_request(request, BROKEN_FORM)
            if _has_nul(post):
                return bad_request(request, MESSAGE)
        return self.get_response(request)

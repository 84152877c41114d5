from django.core.paginator import InvalidPage, Page, Paginator
from django.db.models import Count, QuerySet, Window
from django.http import QueryDict
from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def section_page(items, params, *, param: str = "page", per_page: int = 50) -> tuple[Page, str]:
    """One page of a list shown in a section of an HTML page (`?<param>=`, clamped to the pages there
    are), and the request's other query parameters, url-encoded, for the pager's links: filters and
    the other sections' pages are kept when one section turns a page. Use with includes/pager.html.

    A queryset's page is one query: the rows carry the total (COUNT(*) OVER (), computed before the
    LIMIT) instead of a COUNT(*) of their own, so a page costs the same queries whether the list fits
    on it or not. Only a page number past the end costs a count, to find the last page."""
    query = params.copy() if isinstance(params, QueryDict) else QueryDict(mutable=True)
    query.pop(param, None)
    paginator = Paginator(items, per_page)
    if not isinstance(items, QuerySet):
        return paginator.get_page(params.get(param)), query.urlencode()
    try:
        number = max(1, int(params.get(param) or 1))
    except (TypeError, ValueError):
        number = 1
    start = (number - 1) * per_page
    rows = list(items.annotate(_section_total=Window(Count("*")))[start : start + per_page])
    if rows:
        paginator.count = rows[0]._section_total  # the cached property, filled from the rows
        return Page(rows, number, paginator), query.urlencode()
    if number == 1:  # an empty list: its one page, empty
        paginator.count = 0
        return Page([], 1, paginator), query.urlencode()
    try:
        return paginator.page(number), query.urlencode()
    except InvalidPage:
        return paginator.page(paginator.num_pages), query.urlencode()  # past the end: the last page

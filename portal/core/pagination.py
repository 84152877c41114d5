from django.core.paginator import Page, Paginator
from django.http import QueryDict
from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def section_page(items, params, *, param: str = "page", per_page: int = 50) -> tuple[Page, str]:
    """One page of a list shown in a section of an HTML page (`?<param>=`, clamped to the pages there
    are), and the request's other query parameters, url-encoded, for the pager's links: filters and
    the other sections' pages are kept when one section turns a page. Use with includes/pager.html."""
    number = params.get(param)
    page = None
    if number in (None, "", "1"):
        # Most lists fit on their first page: read one row more than a page instead of COUNT(*) and
        # then the page (one query instead of two); the count is needed only when there is more.
        head = list(items[: per_page + 1])
        if len(head) <= per_page:
            page = Paginator(head, per_page).get_page(1)
        else:  # the first page is already read; the count comes when the pager asks for it
            page = Page(head[:per_page], 1, Paginator(items, per_page))
    if page is None:
        page = Paginator(items, per_page).get_page(number)
    query = params.copy() if isinstance(params, QueryDict) else QueryDict(mutable=True)
    query.pop(param, None)
    return page, query.urlencode()

from portal.core import request_context


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = request_context.set_current(request_context.from_meta(request.META))
        try:
            return self.get_response(request)
        finally:
            request_context.reset(token)

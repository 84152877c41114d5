"""Webhook pages: the section on the project page (templatetags/webhooks.py) posts here; the
delivery log of an endpoint has a page of its own. Studio admins only (webhooks.manage)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from portal.access.policy import Action
from portal.access.views import ProjectScopedView
from portal.webhooks import selectors, services
from portal.webhooks.forms import EndpointForm


def _back(view):
    return redirect(reverse("projects:detail", kwargs={"studio": view.studio.slug, "project": view.project.code}) + "#webhooks")


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _show_secret(view, request, endpoint, secret: str, *, rotated: bool):
    """The secret is shown on this answer only: not stored readable, not in a redirect, not cached."""
    response = render(
        request,
        "webhooks/secret.html",
        view.get_context_data(endpoint=endpoint, secret=secret, rotated=rotated),
    )
    response["Cache-Control"] = "no-store"
    return response


class _EndpointView(ProjectScopedView):
    policy_action = Action.WEBHOOKS_MANAGE

    def endpoint(self, endpoint_id):
        endpoint = selectors.endpoint_get(self.project, endpoint_id)
        if endpoint is None:
            raise Http404("Not found")
        return endpoint


class WebhookCreateView(_EndpointView):
    def post(self, request, **kwargs):
        form = EndpointForm(request.POST)
        if not form.is_valid():
            errors = [str(e) for field in form.errors.values() for e in field]
            messages.error(request, _("The endpoint was not registered: %(why)s") % {"why": " ".join(errors)})
            return _back(self)
        try:
            endpoint, secret = services.endpoint_create(actor=request.user, project=self.project, **form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, _("The endpoint was not registered: %(why)s") % {"why": _errors(exc)})
            return _back(self)
        return _show_secret(self, request, endpoint, secret, rotated=False)


class WebhookUpdateView(_EndpointView):
    def post(self, request, endpoint_id: int, **kwargs):
        endpoint = self.endpoint(endpoint_id)
        active = request.POST.get("is_active") == "1"
        try:
            services.endpoint_update(actor=request.user, endpoint=endpoint, is_active=active)
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        else:
            messages.success(request, _("Endpoint enabled.") if active else _("Endpoint disabled: no event is sent to it."))
        return _back(self)


class WebhookRotateView(_EndpointView):
    def post(self, request, endpoint_id: int, **kwargs):
        endpoint = self.endpoint(endpoint_id)
        raw = request.POST.get("grace_hours", "")
        try:
            grace = int(raw) if raw.strip() else None
        except ValueError:
            messages.error(request, _("Give the grace window as a whole number of hours."))
            return _back(self)
        try:
            endpoint, secret = services.endpoint_rotate_secret(actor=request.user, endpoint=endpoint, grace_hours=grace)
        except ValidationError as exc:
            messages.error(request, _errors(exc))
            return _back(self)
        return _show_secret(self, request, endpoint, secret, rotated=True)


class WebhookDeleteView(_EndpointView):
    def post(self, request, endpoint_id: int, **kwargs):
        endpoint = self.endpoint(endpoint_id)
        services.endpoint_delete(actor=request.user, endpoint=endpoint)
        messages.success(request, _("Endpoint %(url)s removed.") % {"url": endpoint.url})
        return _back(self)


class WebhookTestView(_EndpointView):
    def post(self, request, endpoint_id: int, **kwargs):
        endpoint = self.endpoint(endpoint_id)
        try:
            services.endpoint_send_test(actor=request.user, endpoint=endpoint)
        except ValidationError as exc:
            messages.error(request, _errors(exc))
            return _back(self)
        messages.success(request, _("Test event sent to %(url)s: its delivery is in the log below.") % {"url": endpoint.url})
        return redirect("webhooks:deliveries", studio=self.studio.slug, project=self.project.code, endpoint_id=endpoint.pk)


class WebhookDeliveriesView(_EndpointView):
    def get(self, request, endpoint_id: int, **kwargs):
        endpoint = self.endpoint(endpoint_id)
        page = Paginator(selectors.deliveries_for_project(self.project, endpoint=endpoint), 25).get_page(request.GET.get("page"))
        return render(request, "webhooks/deliveries.html", self.get_context_data(endpoint=endpoint, page=page))


class DeliveryRedeliverView(_EndpointView):
    def post(self, request, endpoint_id: int, delivery_id: int, **kwargs):
        endpoint = self.endpoint(endpoint_id)
        delivery = selectors.delivery_get(self.project, delivery_id)
        if delivery is None or delivery.endpoint_id != endpoint.pk:
            raise Http404("Not found")
        try:
            services.delivery_redeliver(actor=request.user, delivery=delivery)
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        else:
            messages.success(request, _("The event is being sent again."))
        return redirect("webhooks:deliveries", studio=self.studio.slug, project=self.project.code, endpoint_id=endpoint.pk)

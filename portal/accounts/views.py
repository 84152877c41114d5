from __future__ import annotations

import base64
import io
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.accounts import selectors, services
from portal.accounts.forms import ApiTokenForm, SignInForm, TokenForm
from portal.accounts.models import ApiToken
from portal.accounts.services import SignInResult


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


LOCKED_MESSAGE = gettext_noop(
    "Too many failed sign-ins for this account. It is locked for 15 minutes; try again later or reset your password."
)
LOCKED_SCOPE = gettext_noop("Only this account is locked: other accounts, from this address too, can still sign in.")


def locked_out(request, original_response=None, credentials=None, *args, **kwargs):
    """django-axes lockout page (AXES_LOCKOUT_CALLABLE). Axes 8 calls it as
    (request, original_response, credentials); credentials carry the username to keep in the form."""
    form = SignInForm(initial={"username": (credentials or {}).get("username", "")})
    return render(request, "accounts/sign_in.html", {"form": form, "error": _locked_error(), "locked": True}, status=429)


def _locked_error() -> str:
    return f"{_(LOCKED_MESSAGE)} {_(LOCKED_SCOPE)}"


def sign_in(request):
    if request.user.is_authenticated:
        return redirect(_safe_next(request, reverse("home")))
    form = SignInForm(request.POST or None)
    error = None
    status = 200
    if request.method == "POST" and form.is_valid():
        result, user = services.session_sign_in(
            request=request, email=form.cleaned_data["username"], password=form.cleaned_data["password"]
        )
        if result == SignInResult.OK:
            response = HttpResponseRedirect(_safe_next(request, reverse("home")))
            if user.preferred_language in dict(settings.LANGUAGES):
                # LocaleMiddleware reads the language cookie (the session key went away in Django 4).
                response.set_cookie(settings.LANGUAGE_COOKIE_NAME, user.preferred_language, samesite="Lax")
            return response
        if result == SignInResult.LOCKED:
            error, status = _locked_error(), 429
        elif result == SignInResult.INACTIVE:
            error, status = _("This account is disabled. Ask your studio admin."), 403
        else:
            error, status = _("Email or password is not right."), 401
    elif request.method == "POST":
        status = 400
    return render(
        request, "accounts/sign_in.html", {"form": form, "error": error, "next": request.GET.get("next", "")}, status=status
    )


@require_POST
def sign_out(request):
    services.session_sign_out(request=request)
    messages.info(request, _("You are signed out."))
    return redirect("accounts:login")


@login_required
def account(request):
    new_token = request.session.pop("new_api_token", None)
    return render(
        request,
        "accounts/account.html",
        {
            "tokens": selectors.api_tokens(request.user),
            "token_form": ApiTokenForm(),
            "new_token": new_token,
            "has_totp": selectors.user_has_totp(request.user),
            "two_factor_required": selectors.two_factor_required(request.user),
            "studios": selectors.user_studios(request.user),
        },
    )


@login_required
@require_POST
def token_create(request):
    form = ApiTokenForm(request.POST)
    if form.is_valid():
        try:
            _token, raw = services.api_token_create(
                user=request.user, name=form.cleaned_data["name"], expires_in_days=form.cleaned_data["expires_in_days"]
            )
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
        else:
            # Shown once on the next page, then gone: only its hash is stored.
            request.session["new_api_token"] = raw
            messages.success(request, _("Token created. Copy it now: it will not be shown again."))
    else:
        messages.error(request, _("Give the token a name and a lifetime between 1 and 365 days."))
    return redirect("accounts:account")


@login_required
@require_POST
def token_revoke(request, token_id: int):
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    services.api_token_revoke(user=request.user, token=token)
    messages.success(request, _("Token revoked."))
    return redirect("accounts:account")


def _qr_data_uri(url: str) -> str:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=12, border=2)
    buf = io.BytesIO()
    image.save(buf)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode()


def _to_verify(request, next_url: str):
    return redirect(f"{reverse('accounts:2fa_verify')}?{urlencode({'next': next_url})}")


@login_required
def two_factor_setup(request):
    if selectors.user_has_totp(request.user):
        if not request.user.is_verified():
            # A password alone must not enrol a new phone in place of the owner's.
            return _to_verify(request, request.get_full_path())
        messages.info(request, _("Two-factor sign-in is already on."))
        return redirect("accounts:account")
    device = TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
    if device is None or request.method == "GET" and request.GET.get("new"):
        device = services.totp_device_start(user=request.user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = services.totp_device_confirm(request=request, device=device, token=form.cleaned_data["token"])
        except ValidationError as exc:
            form.add_error("token", exc.message_dict.get("token", exc.messages)[0])
        else:
            return render(request, "accounts/two_factor_backup_codes.html", {"codes": codes})
    secret_b32 = base64.b32encode(device.bin_key).decode().rstrip("=")
    return render(
        request,
        "accounts/two_factor_setup.html",
        {
            "form": form,
            "qr": _qr_data_uri(device.config_url),
            "secret": secret_b32,
            "required": selectors.two_factor_required(request.user),
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
def two_factor_verify(request):
    if request.user.is_verified():
        return redirect(_safe_next(request, reverse("home")))
    form = TokenForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        if services.two_factor_verify(request=request, token=form.cleaned_data["token"]):
            return HttpResponseRedirect(_safe_next(request, reverse("home")))
        form.add_error("token", _("That code is not right. Use the current code from your app, or a backup code."))
        status = 400
    return render(request, "accounts/two_factor_verify.html", {"form": form, "next": request.GET.get("next", "")}, status=status)


@login_required
@require_POST
def two_factor_disable(request):
    if selectors.user_has_totp(request.user) and not request.user.is_verified():
        return _to_verify(request, reverse("accounts:account"))  # a password alone must not turn the second factor off
    try:
        services.two_factor_disable(user=request.user)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, _("Two-factor sign-in is off."))
    return redirect("accounts:account")


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    email_template_name = "emails/password_reset.txt"
    subject_template_name = "emails/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form):
        services.password_reset_requested(email=form.cleaned_data["email"])
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        services.password_changed(user=form.user, via="reset")
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:account")

    def form_valid(self, form):
        response = super().form_valid(form)
        services.password_changed(user=self.request.user, via="change")
        messages.success(self.request, _("Your password was changed."))
        return response

"""The Django admin, for administrators only, behind the same sign-in rules as the API.

Django's stock admin login checks a password alone and trusts `is_staff`; here
the login form asks for the TOTP code too and goes through
apps.accounts.services.admin_sign_in (lockout, replay rule, audit). The session
ends after SESSION_IDLE_SECONDS idle (the cookie age, renewed on each request)
and after SESSION_MAX_SECONDS whatever its use. Only agency-scoped data that
administrators maintain is registered (apps/*/admin.py); case files are not.
"""

from __future__ import annotations

import time
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.forms import AuthenticationForm
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from apps.accounts.policy import is_administrator
from apps.accounts.services import admin_sign_in
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.common.addresses import client_address
from apps.common.errors import AuthenticationFailed

_SIGNED_IN_AT = "rtcc_admin_signed_in_at"


def lock_rule() -> str:
    """The lockout, in words, under the sign-in form: what a user needs to know, nothing of any account."""
    lasting = (f"for {settings.LOGIN_LOCK_SECONDS // 60} minutes" if settings.LOGIN_LOCK_SECONDS
               else "until another administrator releases it")
    return f"{settings.LOGIN_MAX_FAILURES} failed sign-ins in a row lock the account {lasting}."


class AdminSignInForm(AuthenticationForm):
    code = forms.CharField(label="Authenticator code", max_length=6, min_length=6,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        password = self.cleaned_data.get("password") or ""
        code = self.cleaned_data.get("code") or ""
        try:
            user = admin_sign_in(username=username, password=password, code=code,
                                 ip=client_address(self.request.META) if self.request else None)
        except AuthenticationFailed as exc:
            # The page comes back without the code: it was wrong or is spent, and the next one is needed.
            self.data = {**self.data, "code": ""}
            raise forms.ValidationError(exc.message, code="invalid_login") from exc
        user.backend = "django.contrib.auth.backends.ModelBackend"  # type: ignore[attr-defined]
        self.user_cache = user
        if self.request is not None:
            self.request.session[_SIGNED_IN_AT] = time.time()
        return self.cleaned_data


class RtccAdminSite(admin.AdminSite):
    site_header = "RTCC Relay administration"
    site_title = "RTCC Relay"
    index_title = "Agency data"
    login_form = AdminSignInForm
    login_template = "admin/rtcc_login.html"

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        return super().login(request, {**(extra_context or {}), "lock_rule": lock_rule()})

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if not (user.is_active and is_administrator(user) and user.agency_id
                and user.locked_at is None):
            return False
        signed_in_at = request.session.get(_SIGNED_IN_AT, 0)
        return bool(time.time() - signed_in_at < settings.SESSION_MAX_SECONDS)


class AdministratorOnlyAdmin(admin.ModelAdmin):
    """Administrators alone see and edit these rows; every save is audited."""

    def _allowed(self, request: HttpRequest) -> bool:
        return is_administrator(request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_record(actor=request.user, action=AuditEvent.Action.UPDATE if change else AuditEvent.Action.CREATE,
                         obj=obj, ip=client_address(request.META),
                         detail={"fields": sorted(form.changed_data), "channel": "admin"})


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, never added, changed or deleted on the admin site (a record kept elsewhere)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class AgencyScopedAdmin(AdministratorOnlyAdmin):
    """An administrator sees and edits their own agency's rows; every change is audited."""

    exclude = ("agency",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).filter(agency_id=request.user.agency_id)  # type: ignore[union-attr]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.agency_id = request.user.agency_id  # type: ignore[union-attr]
        super().save_model(request, obj, form, change)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            audit_record(actor=request.user, action=AuditEvent.Action.DELETE, obj=obj,
                         ip=client_address(request.META), detail={"channel": "admin"})
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        with transaction.atomic():
            audit_record(actor=request.user, action=AuditEvent.Action.DELETE, objects=list(queryset),
                         ip=client_address(request.META), detail={"channel": "admin"})
            super().delete_queryset(request, queryset)

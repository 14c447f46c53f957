"""The camera registry in the admin site, for each agency's administrators.

Stream credentials are write-only here: two form fields that are never filled
in on display, saved through camera_credentials_set (encrypted, audited without
values). The list shows whether a camera has credentials, never what they are.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from apps.accounts.admin_site import AgencyScopedAdmin
from apps.cameras.models import Camera, CameraCredential, CameraLocation
from apps.cameras.services import camera_credentials_set, source_url_validate
from apps.common.addresses import client_address
from apps.common.errors import ValidationFailed
from apps.places.geo import geohash_encode


class CameraAdminForm(forms.ModelForm):
    stream_username = forms.CharField(required=False, max_length=200, widget=forms.PasswordInput(render_value=False),
                                      help_text="Leave both empty to keep the stored credentials.")
    stream_password = forms.CharField(required=False, max_length=200, widget=forms.PasswordInput(render_value=False))
    clear_credentials = forms.BooleanField(required=False, help_text="Remove the stored credentials.")

    class Meta:
        model = Camera
        fields = ["name", "kind", "external_id", "owner_kind", "owner", "owner_administrator", "latitude",
                  "longitude", "source_kind", "source_url", "sharing", "sharing_radius_m", "enabled"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("source_kind") and data.get("source_url"):
            try:
                source_url_validate(source_kind=data["source_kind"], source_url=data["source_url"])
            except ValidationFailed as exc:
                raise forms.ValidationError({"source_url": exc.message}) from exc
        return data


class CameraLocationInline(admin.TabularInline):
    model = CameraLocation
    fields = ("placed_at", "latitude", "longitude", "placed_by", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-placed_at",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Camera)
class CameraAdmin(AgencyScopedAdmin):
    form = CameraAdminForm
    list_display = ("name", "kind", "owner", "sharing", "enabled", "has_credentials")
    list_filter = ("kind", "owner_kind", "sharing", "enabled")
    search_fields = ("name", "owner", "external_id")
    inlines = [CameraLocationInline]

    @admin.display(boolean=True, description="credentials")
    def has_credentials(self, obj: Camera) -> bool:
        return CameraCredential.objects.filter(camera=obj).exists()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        moved = bool({"latitude", "longitude"} & set(form.changed_data))
        located = obj.latitude is not None and obj.longitude is not None
        obj.cell = geohash_encode(obj.latitude, obj.longitude) if located else ""
        if moved:
            obj.location_updated_at = timezone.now() if located else None
        super().save_model(request, obj, form, change)
        if moved and located and obj.is_mobile:
            CameraLocation.objects.create(camera=obj, latitude=obj.latitude, longitude=obj.longitude,
                                          placed_at=obj.location_updated_at, placed_by_id=request.user.pk,
                                          note="set in the admin site")
        username = form.cleaned_data.get("stream_username") or ""
        password = form.cleaned_data.get("stream_password") or ""
        if form.cleaned_data.get("clear_credentials") or username or password:
            camera_credentials_set(camera=obj, username=username, password=password, actor=request.user,
                                   ip=client_address(request.META))

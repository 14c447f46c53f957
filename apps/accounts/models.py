from __future__ import annotations

import zoneinfo

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone, e.g. America/Los_Angeles.")


class Agency(models.Model):
    name = models.CharField(max_length=200)
    # NCIC Originating Agency Identifier: two-letter state code plus seven characters.
    ori = models.CharField("ORI", max_length=9, unique=True)
    # IANA name. Officers read every time on their screens in it (a Seattle officer must not do UTC sums).
    time_zone = models.CharField(max_length=64, default="America/Los_Angeles",
                                 validators=[validate_time_zone])
    # The city, township or borough the agency serves: the scope of an address a source gives without one
    # (apps.places.normalize). Blank for an agency over several (a county): its addresses are scoped by it alone.
    municipality = models.CharField(max_length=100, blank=True, default="", db_default="")

    class Meta:
        verbose_name_plural = "agencies"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.ori})"


class Role(models.TextChoices):
    OFFICER = "officer", "Officer"
    ANALYST = "analyst", "Analyst"
    SUPERVISOR = "supervisor", "Supervisor"
    CO_RESPONDER = "co_responder", "Co-responder"
    ADMINISTRATOR = "administrator", "Administrator"
    AUDITOR = "auditor", "Auditor"
    # A machine account for the CAD system: it writes calls and assignments, reads no case files.
    INTEGRATION = "integration", "CAD integration"


class User(AbstractUser):
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.OFFICER)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="users")
    badge_number = models.CharField(max_length=20, blank=True)

    # TOTP (RFC 6238). The secret is set at enrolment; mfa_enabled once the user proved a code.
    mfa_secret = models.CharField(max_length=64, blank=True)
    mfa_enabled = models.BooleanField(default=False)
    # The last accepted TOTP time step: a code is accepted once, never replayed.
    mfa_last_step = models.BigIntegerField(null=True, blank=True)

    failed_login_count = models.PositiveIntegerField(default=0)
    last_failed_login_at = models.DateTimeField(null=True, blank=True)
    locked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["username"]

    @property
    def mfa_required(self) -> bool:
        from apps.accounts.policy import MFA_REQUIRED_ROLES  # the policy module builds on these models

        return self.role in MFA_REQUIRED_ROLES or self.mfa_enabled


class Unit(models.Model):
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="units")
    call_sign = models.CharField(max_length=20)
    district = models.CharField(max_length=40, blank=True)
    beat = models.CharField(max_length=40, blank=True)
    members_on_shift = models.ManyToManyField(User, blank=True, related_name="units_on_shift")

    class Meta:
        ordering = ["call_sign"]
        constraints = [models.UniqueConstraint(fields=["agency", "call_sign"], name="unit_call_sign_per_agency")]

    def __str__(self) -> str:
        return self.call_sign


class Device(models.Model):
    class Kind(models.TextChoices):
        PHONE = "phone", "Phone"
        TERMINAL = "terminal", "In-car terminal"
        DESKTOP = "desktop", "Desktop"

    class Platform(models.TextChoices):
        ANDROID = "android", "Android"
        IOS = "ios", "iOS"
        WEB = "web", "Web"

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="devices")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    platform = models.CharField(max_length=10, choices=Platform.choices)
    # FCM registration token; never logged, never returned by the API.
    push_token = models.CharField(max_length=4096, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # Last reported position, for "everyone within a radius" pushes; kept only as the latest point.
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    located_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class DeviceSession(models.Model):
    """One sign-in on one device: the bearer token's row.

    Only the SHA-256 of the token is stored; the token itself is shown once, at login.
    """

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="sessions")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=20, blank=True)

    class Meta:
        indexes = [models.Index(fields=["device", "ended_at"])]

    def __str__(self) -> str:
        return f"session {self.pk} on device {self.device_id}"

"""Case files: people, vehicles, premises and the cases that link them.

Every record belongs to one agency. Who sees it is decided per object:
roles give the default (officers, analysts and supervisors of the agency see
unrestricted records), and a restricted record (juvenile, sealed, undercover)
is seen only by the users or groups named on it through django-guardian's
direct foreign-key permission tables below.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from apps.common.fields import by_user, owning_agency
from apps.media.variants import PhotoVariant


class Restriction(models.TextChoices):
    NONE = "", "Not restricted"
    JUVENILE = "juvenile", "Juvenile"
    SEALED = "sealed", "Sealed"
    UNDERCOVER = "undercover", "Undercover"


class AgencyRecord(models.Model):
    agency = owning_agency()
    restriction = models.CharField(max_length=12, choices=Restriction.choices, default=Restriction.NONE, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Premise(AgencyRecord):
    name = models.CharField(max_length=200, blank=True, help_text="Business or place name, if any.")
    address = models.CharField(max_length=200)
    # City, township or borough; blank: the agency's (apps.places.services.place_key).
    municipality = models.CharField(max_length=100, blank=True, default="", db_default="")
    # apps.places.services.place_key(address, municipality): how calls find this premise.
    address_key = models.CharField(max_length=200, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    # Geohash cell, precision 7 (apps.places.geo): the spatial index.
    cell = models.CharField(max_length=12, blank=True)
    hazards = models.TextField(blank=True, help_text="Dogs, weapons, structural or health hazards at this address.")

    class Meta:
        ordering = ["address"]
        indexes = [
            models.Index(fields=["agency", "restriction", "updated_at", "id"]),
            models.Index(fields=["agency", "address_key"], name="premise_address_idx"),
            models.Index(fields=["agency", "cell"], name="premise_cell_idx"),
        ]

    def __str__(self) -> str:
        return self.address


class Person(AgencyRecord):
    class Supervision(models.TextChoices):
        NONE = "", "None"
        PROBATION = "probation", "Probation"
        PAROLE = "parole", "Parole"

    first_name = models.CharField(max_length=80)
    middle_name = models.CharField(max_length=80, blank=True)
    last_name = models.CharField(max_length=80)
    date_of_birth = models.DateField(null=True, blank=True)
    sex = models.CharField(max_length=1, blank=True)
    race = models.CharField(max_length=1, blank=True)
    height_cm = models.PositiveSmallIntegerField(null=True, blank=True)
    weight_kg = models.PositiveSmallIntegerField(null=True, blank=True)
    hair = models.CharField(max_length=20, blank=True)
    eyes = models.CharField(max_length=20, blank=True)
    scars_marks_tattoos = models.TextField(blank=True)
    supervision = models.CharField(max_length=10, choices=Supervision.choices, default=Supervision.NONE, blank=True)
    supervision_detail = models.CharField(max_length=200, blank=True)
    # Short machine-readable flags a terminal can show as badges: armed, violent_to_officers, flight_risk, ...
    caution_flags = models.JSONField(default=list, blank=True)
    caution_notes = models.TextField(blank=True)
    behavioral_health_guidance = models.TextField(blank=True)

    class Meta:
        ordering = ["last_name", "first_name"]
        verbose_name_plural = "people"
        indexes = [
            models.Index(fields=["agency", "restriction", "updated_at", "id"]),
            models.Index(fields=["agency", "last_name", "first_name"]),
            models.Index(fields=["updated_at", "id"], name="person_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.last_name}, {self.first_name}"


class PersonAlias(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="aliases")
    name = models.CharField(max_length=160)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "person aliases"

    def __str__(self) -> str:
        return self.name


class Warrant(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SERVED = "served", "Served"
        RECALLED = "recalled", "Recalled"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="warrants")
    number = models.CharField(max_length=40)
    offense = models.CharField(max_length=200)
    issued_on = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    extraditable = models.BooleanField(default=True)

    class Meta:
        ordering = ["-issued_on"]

    def __str__(self) -> str:
        return f"{self.number} {self.offense}"


class PersonPhoto(models.Model):
    """The original as uploaded, byte for byte (evidence); phones and terminals get its variants."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="photos")
    image = models.FileField(upload_to="people/%Y/%m/")
    # Chain of custody: the original's digest, computed when it was stored.
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=40)
    # Oriented size of the original (0 for photos stored before variants existed).
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    taken_on = models.DateField(null=True, blank=True)
    added_by = by_user(optional=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"photo {self.sha256[:12]}"


class PersonPhotoVariant(PhotoVariant):
    photo = models.ForeignKey(PersonPhoto, on_delete=models.CASCADE, related_name="variants")

    class Meta(PhotoVariant.Meta):
        constraints = [models.UniqueConstraint(fields=["photo", "name"], name="photo_variant_once")]


class Vehicle(AgencyRecord):
    plate = models.CharField(max_length=12)
    plate_state = models.CharField(max_length=2, blank=True)
    make = models.CharField(max_length=40, blank=True)
    model = models.CharField(max_length=40, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    color = models.CharField(max_length=30, blank=True)
    vin = models.CharField("VIN", max_length=17, blank=True)
    registered_owner = models.ForeignKey(Person, on_delete=models.SET_NULL, null=True, blank=True,
                                         related_name="vehicles")
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["plate"]
        indexes = [
            models.Index(fields=["agency", "restriction", "updated_at", "id"]),
            models.Index(fields=["agency", "plate"]),
        ]

    def __str__(self) -> str:
        return f"{self.plate} {self.plate_state}".strip()


class Case(AgencyRecord):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACTIVE = "active", "Active investigation"
        SUSPENDED = "suspended", "Suspended"
        CLOSED = "closed", "Closed"

    number = models.CharField(max_length=30)
    case_type = models.CharField(max_length=60)
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    notes = models.TextField(blank=True)
    opened_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    people: models.ManyToManyField[Person, CasePerson] = models.ManyToManyField(
        Person, through="CasePerson", related_name="cases", blank=True)
    vehicles = models.ManyToManyField(Vehicle, related_name="cases", blank=True)
    premises = models.ManyToManyField(Premise, related_name="cases", blank=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["agency", "number"], name="case_number_per_agency")]
        indexes = [
            models.Index(fields=["agency", "restriction", "updated_at", "id"]),
            # For cross-agency views (grants only, today) and the unfiltered baseline in bench/case_list.py.
            models.Index(fields=["updated_at", "id"], name="case_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class CasePerson(models.Model):
    class Involvement(models.TextChoices):
        SUSPECT = "suspect", "Suspect"
        VICTIM = "victim", "Victim"
        WITNESS = "witness", "Witness"
        COMPLAINANT = "complainant", "Complainant"
        OTHER = "other", "Other"

    case = models.ForeignKey(Case, on_delete=models.CASCADE)
    person = models.ForeignKey(Person, on_delete=models.CASCADE)
    involvement = models.CharField(max_length=12, choices=Involvement.choices, default=Involvement.OTHER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "person"], name="case_person_once")]

    def __str__(self) -> str:
        return f"{self.person_id} {self.involvement} in {self.case_id}"


# django-guardian direct foreign-key permission tables: a real FK and index per
# record type instead of the generic (content_type, object_pk text) table, so the
# permission filter is an indexed integer join.
class CaseUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Case, on_delete=models.CASCADE)


class CaseGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Case, on_delete=models.CASCADE)


class PersonUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Person, on_delete=models.CASCADE)


class PersonGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Person, on_delete=models.CASCADE)


class VehicleUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Vehicle, on_delete=models.CASCADE)


class VehicleGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Vehicle, on_delete=models.CASCADE)


class PremiseUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Premise, on_delete=models.CASCADE)


class PremiseGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Premise, on_delete=models.CASCADE)

from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.models import Device, Role, Unit, User
from apps.common.errors import NotFound


def device_list_for_user(*, user: User, owner_id: int | None = None) -> QuerySet[Device]:
    """A user's own devices; an administrator may list anyone's in their agency."""
    if owner_id is None or owner_id == user.pk:
        return Device.objects.filter(user=user)
    if user.role != Role.ADMINISTRATOR or user.agency_id is None:
        raise NotFound("User not found.", code="user_not_found")
    if not User.objects.filter(pk=owner_id, agency_id=user.agency_id).exists():
        raise NotFound("User not found.", code="user_not_found")
    return Device.objects.filter(user_id=owner_id)


def user_list_for_admin(*, user: User) -> QuerySet[User]:
    """The agency's users, for an administrator; nobody else lists accounts."""
    if user.role != Role.ADMINISTRATOR or user.agency_id is None:
        raise NotFound("Not found.")
    return User.objects.filter(agency_id=user.agency_id).order_by("username")


def units_for_user(*, user: User) -> QuerySet[Unit]:
    return Unit.objects.filter(members_on_shift=user)

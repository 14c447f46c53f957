"""`__any`: the array form of `__in` that recipient checks use for long id lists."""

from __future__ import annotations

import pytest

from apps.accounts.models import User
from tests.base import World


@pytest.mark.parametrize("extra", [[], [2**40], list(range(10**6, 10**6 + 1500))])
def test_any_finds_exactly_what_in_finds(world: World, extra: list[int]) -> None:
    ids = [world.omar.pk, world.cora.pk, world.xavier.pk, *extra]
    found = set(User.objects.filter(pk__any=ids, is_active=True).values_list("pk", flat=True))
    assert found == set(User.objects.filter(pk__in=ids, is_active=True).values_list("pk", flat=True))
    assert found == {world.omar.pk, world.cora.pk, world.xavier.pk}


def test_any_of_nothing_is_nothing(world: World) -> None:
    assert not User.objects.filter(pk__any=[]).exists()

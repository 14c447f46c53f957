"""Sign-in is throttled per client address, which a client cannot choose, and per username.

The outside probe's finding: 40 bad sign-ins from one address, each with a different
X-Forwarded-For, got 40 x 401 and no 429; the audit recorded the real address, the throttle the header.
"""

from __future__ import annotations

from django.test import override_settings
from rest_framework.test import APIClient

from apps.audit.models import AuditEvent
from apps.common.addresses import client_address
from rtcc_server.settings import env_networks
from tests.accounts.signin import LOGIN, device
from tests.base import World


def _bad_sign_in(username: str, *, forwarded_for: str | None = None, remote: str = "203.0.113.7") -> int:
    extra = {"REMOTE_ADDR": remote}
    if forwarded_for:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    body = {"username": username, "password": "not-the-password", "device": device()}
    return int(APIClient().post(LOGIN, body, format="json", **extra).status_code)


def test_forty_bad_sign_ins_with_made_up_forwarded_headers_are_throttled_by_their_real_address(world: World) -> None:
    answers = [_bad_sign_in(f"user{n}", forwarded_for=f"198.51.100.{n}") for n in range(40)]
    assert answers[:30] == [401] * 30
    assert set(answers[30:]) == {429}


def test_behind_a_trusted_proxy_the_client_named_by_the_proxy_is_counted(world: World) -> None:
    with override_settings(TRUSTED_PROXIES=env_networks("UNSET_IN_TESTS", ["10.0.0.0/8"])):
        first = [_bad_sign_in(f"user{n}", forwarded_for="198.51.100.9", remote="10.1.2.3") for n in range(30)]
        other_client = _bad_sign_in("user99", forwarded_for="198.51.100.10", remote="10.1.2.3")
        same_client = _bad_sign_in("user98", forwarded_for="198.51.100.9", remote="10.1.2.3")
    assert set(first) == {401}
    assert other_client == 401
    assert same_client == 429


def test_the_audit_records_the_address_the_throttle_counts(world: World) -> None:
    with override_settings(TRUSTED_PROXIES=env_networks("UNSET_IN_TESTS", ["10.0.0.0/8"])):
        _bad_sign_in(world.omar.username, forwarded_for="1.2.3.4, 198.51.100.9, 10.9.9.9", remote="10.1.2.3")
        assert client_address({"REMOTE_ADDR": "10.1.2.3",
                               "HTTP_X_FORWARDED_FOR": "1.2.3.4, 198.51.100.9, 10.9.9.9"}) == "198.51.100.9"
    event = AuditEvent.objects.filter(actor=world.omar).latest("pk")
    assert event.ip == "198.51.100.9"


def test_a_forwarded_header_from_an_untrusted_peer_is_ignored() -> None:
    assert client_address({"REMOTE_ADDR": "203.0.113.7", "HTTP_X_FORWARDED_FOR": "198.51.100.1"}) == "203.0.113.7"


def test_many_addresses_guessing_one_password_are_slowed_per_username(world: World) -> None:
    answers = [_bad_sign_in("sam", remote=f"198.51.100.{n}") for n in range(22)]
    assert answers[-1] == 429
    assert answers.count(429) == 2

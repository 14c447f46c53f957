from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from rtcc_server.settings import env_bool, env_int, env_list


def test_a_misspelt_boolean_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RTCC_X", "ture")
    with pytest.raises(ImproperlyConfigured, match="RTCC_X must be a boolean"):
        env_bool("RTCC_X", False)
    monkeypatch.setenv("RTCC_X", "off")
    assert env_bool("RTCC_X", True) is False


def test_a_non_number_or_too_small_number_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RTCC_N", "30m")
    with pytest.raises(ImproperlyConfigured, match="must be an integer"):
        env_int("RTCC_N", 5)
    monkeypatch.setenv("RTCC_N", "10")
    with pytest.raises(ImproperlyConfigured, match=">= 60"):
        env_int("RTCC_N", 1800, minimum=60)


def test_lists_are_comma_separated_and_default_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RTCC_L", raising=False)
    assert env_list("RTCC_L", ["a"]) == ["a"]
    monkeypatch.setenv("RTCC_L", "relay.example.org, 127.0.0.1 ,")
    assert env_list("RTCC_L", []) == ["relay.example.org", "127.0.0.1"]

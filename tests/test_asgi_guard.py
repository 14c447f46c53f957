"""SyncChainASGIHandler leans on Django's ASGIHandler internals: a change there stops the server at start."""

from __future__ import annotations

import pytest
from django.core.handlers.asgi import ASGIHandler

from rtcc_server.asgi import SyncChainASGIHandler, django_handler_fits


def test_the_installed_django_fits() -> None:
    django_handler_fits()
    assert SyncChainASGIHandler()._middleware_chain is not None


def test_a_django_whose_handler_sets_up_more_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def __init__(self: ASGIHandler) -> None:
        super(ASGIHandler, self).__init__()
        self.load_middleware(is_async=True)
        self.something_new = True

    monkeypatch.setattr(ASGIHandler, "__init__", __init__)
    with pytest.raises(RuntimeError, match="ASGIHandler changed shape"):
        SyncChainASGIHandler()

"""An administrator signs in to /admin/ in a real browser, typing the password and the authenticator code."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.audit.models import AuditEvent
from tests.base import PASSWORD, World, current_code
from tests.e2e.conftest import Site, screenshot

WAIT_MS = 10_000
REFUSED = "Sign-in failed. Check your username, password and code"


def _type_sign_in(page: Page, site: Site, *, username: str, code: str) -> None:
    page.goto(f"{site.direct}/admin/")
    page.get_by_label("Username").press_sequentially(username)
    page.get_by_label("Password").press_sequentially(PASSWORD)
    page.get_by_label("Authenticator code").press_sequentially(code)
    page.get_by_role("button", name="Sign in").click()


def _wrong(code: str) -> str:
    return f"{(int(code) + 500_000) % 1_000_000:06d}"


def test_abe_signs_in_to_the_admin_by_typing_his_password_and_code(world: World, site: Site, browser: Any) -> None:
    for width, height in ((390, 844), (1440, 900)):
        page = browser.new_context(viewport={"width": width, "height": height}).new_page()
        page.goto(f"{site.direct}/admin/")
        expect(page.get_by_label("Authenticator code")).to_be_visible(timeout=WAIT_MS)
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        screenshot(page, f"admin-sign-in-{width}")
        page.context.close()

    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    _type_sign_in(page, site, username="abe", code=current_code(world.abe))
    expect(page.get_by_role("heading", name="Agency data")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_role("link", name="Cad type mappings")).to_be_visible()
    screenshot(page, "admin-index-1440")
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_SUCCESS, actor=world.abe,
                                     detail__channel="admin").exists()


def test_a_wrong_code_is_refused_with_a_message_and_audited(world: World, site: Site, browser: Any) -> None:
    page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    _type_sign_in(page, site, username="abe", code=_wrong(current_code(world.abe)))
    expect(page.get_by_role("alert")).to_contain_text(REFUSED, timeout=WAIT_MS)
    expect(page.get_by_text("failed sign-ins in a row lock the account")).to_be_visible()
    expect(page.get_by_label("Authenticator code")).to_be_visible()
    screenshot(page, "admin-sign-in-refused-390")
    assert AuditEvent.objects.filter(action=AuditEvent.Action.MFA_FAILURE, actor=world.abe).count() == 1
    world.abe.refresh_from_db()
    assert world.abe.failed_login_count == 1


def test_a_locked_administrator_is_refused_even_with_the_right_code(world: World, site: Site, browser: Any) -> None:
    world.abe.locked_at = timezone.now()
    world.abe.save(update_fields=["locked_at"])
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    _type_sign_in(page, site, username="abe", code=current_code(world.abe))
    expect(page.get_by_role("alert")).to_contain_text(REFUSED, timeout=WAIT_MS)
    expect(page.get_by_role("heading", name="Agency data")).to_have_count(0)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_FAILURE, actor=world.abe,
                                     detail__reason="locked", detail__channel="admin").exists()

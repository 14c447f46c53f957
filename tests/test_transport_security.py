"""Production transport settings: on by default outside the embedded demo, and `check --deploy` clean.

The outside probe's finding: no HSTS, no SECURE_PROXY_SSL_HEADER, no Secure flag on the session and
CSRF cookies; the terminal's CSP allowed websockets to any host; /api/v1/docs/ and /admin/ had no CSP.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[1]


def _production_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RTCC_", "PYTEST_", "DJANGO_"))}
    env.update({"DATABASE_URL": "postgres://rtcc@db.internal:5432/rtcc", "REDIS_URL": "redis://cache.internal:6379/0",
                "RTCC_SECRET_KEY": secrets.token_urlsafe(50), "RTCC_ALLOWED_HOSTS": "rtcc.example.org",
                "RTCC_VAR_DIR": str(ROOT / "var"), **extra})
    return env


def _settings_of(env: dict[str, str], *names: str) -> list[str]:
    code = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'rtcc_server.settings'; django.setup(); "
            "from django.conf import settings; "
            + "; ".join(f"print(repr(getattr(settings, {n!r}, None)))" for n in names))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,  # noqa: S603
                         timeout=60, check=True).stdout
    return out.splitlines()


def test_manage_py_check_deploy_finds_no_security_problem_with_production_settings() -> None:
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT,
                          env=_production_env(), capture_output=True, text=True, timeout=120)
    warnings = [line for line in (done.stdout + done.stderr).splitlines() if "(security." in line]
    assert done.returncode == 0, done.stderr
    assert warnings == []


def test_tls_settings_are_on_by_default_in_production_and_off_in_the_embedded_demo() -> None:
    names = ("SECURE_HSTS_SECONDS", "SECURE_PROXY_SSL_HEADER", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE")
    assert _settings_of(_production_env(), *names) == [
        "31536000", "('HTTP_X_FORWARDED_PROTO', 'https')", "True", "True"]
    embedded = {k: v for k, v in _production_env().items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    assert _settings_of(embedded, *names) == ["0", "None", "False", "False"]


@pytest.mark.parametrize("path", ["/api/v1/docs/", "/admin/login/", "/terminal/", "/console/"])
def test_every_html_page_has_a_csp_that_allows_websockets_only_to_our_own_host(db: None, path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "ws:" not in policy and "wss:" not in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]


def test_the_api_docs_page_runs_no_inline_script(db: None) -> None:
    html = Client().get("/api/v1/docs/").content.decode()
    assert "<script>" not in html

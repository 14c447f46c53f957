"""The phone team generates its client from our schema: both generators they use must take it without a word.

openapi-python-client (pinned in requirements-dev.txt) and openapi-typescript (pinned in clients/package.json,
installed by `npm ci` into the gitignored clients/node_modules) run on the schema the API serves; any warning or
error fails. The TypeScript output is then type-checked with what the co-responder app writes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

CLIENTS = Path(settings.BASE_DIR) / "clients"
BIN = Path(sys.executable).parent


def _schema(tmp_path: Path) -> Path:
    path = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(path), "--fail-on-warn", "--validate")
    return path


def _node_tools() -> Path:
    tools = CLIENTS / "node_modules" / ".bin"
    if not (tools / "openapi-typescript").exists():
        npm = shutil.which("npm")
        assert npm, "the TypeScript generator needs npm (Debian's nodejs and npm packages)"
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=CLIENTS, check=True, capture_output=True,  # noqa: S603
                       timeout=300)
    return tools


def _run(args: list[str], cwd: Path) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300,  # noqa: S603
                          env={"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(cwd), "NO_COLOR": "1"})
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


@pytest.mark.django_db
def test_drf_spectacular_writes_the_schema_without_a_warning(tmp_path: Path) -> None:
    assert _schema(tmp_path).stat().st_size > 0


@pytest.mark.django_db
def test_openapi_python_client_generates_every_operation_without_a_warning(tmp_path: Path) -> None:
    output = _run([str(BIN / "openapi-python-client"), "generate", "--path", str(_schema(tmp_path)),
                   "--config", str(CLIENTS / "openapi-python-client.yaml"), "--meta", "none",
                   "--output-path", str(tmp_path / "client")], cwd=tmp_path)
    assert "WARNING" not in output and "Error" not in output, output
    api = tmp_path / "client" / "api"
    assert (api / "referrals" / "referrals_transition.py").exists()
    for download in ("media/clips_file.py", "photos/photos_file.py", "sensors/sensor_alerts_snapshot.py"):
        assert "File(payload=BytesIO(response.content))" in (api / download).read_text(), download


@pytest.mark.django_db
def test_openapi_typescript_generates_types_the_co_responder_app_compiles_against(tmp_path: Path) -> None:
    tools = _node_tools()
    output = _run([str(tools / "openapi-typescript"), str(_schema(tmp_path)), "--output", str(tmp_path / "api.ts")],
                  cwd=tmp_path)
    assert "warn" not in output.lower() and "error" not in output.lower(), output
    shutil.copy(CLIENTS / "transition_request.ts", tmp_path)
    _run([str(tools / "tsc"), "--strict", "--noEmit", "--target", "es2022", "--module", "es2022",
          "--moduleResolution", "bundler", "transition_request.ts"], cwd=tmp_path)

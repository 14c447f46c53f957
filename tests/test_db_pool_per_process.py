"""Every ASGI server pools its PostgreSQL connections (10 unless set); Celery, commands and tests do not.

Under Daphne each HTTP request runs on a thread of its own, so without a pool every request
opened a PostgreSQL connection of its own (rtcc_server/settings.py says more). Nothing here
connects: the settings are read in a fresh process, started the way each kind of process is.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The pool each kind of process ends up with: what Django's PostgreSQL backend is handed.
_PRINT_POOL = ("from django.conf import settings; "
               "print(settings.DATABASES['default'].get('OPTIONS', {}).get('pool', {}).get('max_size', 0))")


def _pool_size(start: str, **extra: str) -> int:
    return int(_printed(start, _PRINT_POOL, **extra))


def _printed(start: str, show: str, **extra: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RTCC_", "PYTEST_", "DJANGO_"))}
    env.update({"DATABASE_URL": "postgres://rtcc@127.0.0.1:1/rtcc", "REDIS_URL": "redis://127.0.0.1:1/0",
                "RTCC_SECRET_KEY": "pool-" + "k" * 40, "RTCC_VAR_DIR": str(ROOT / "var"), **extra})
    out = subprocess.run([sys.executable, "-c", f"{start}; {show}"], cwd=ROOT, env=env,  # noqa: S603
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.split()[-1]


def test_a_process_started_as_an_asgi_server_pools_ten_connections() -> None:
    # What Daphne does with `rtcc_server.asgi:application`: import the module, which sets Django up.
    assert _pool_size("import rtcc_server.asgi") == 10


def test_a_worker_a_command_or_the_test_runner_keeps_its_own_connections() -> None:
    # Celery, manage.py and pytest set Django up themselves; importing the ASGI module afterwards (a test
    # of it, a runserver) leaves their settings as they were.
    started_by_django = "import django; os.environ['DJANGO_SETTINGS_MODULE'] = 'rtcc_server.settings'; django.setup()"
    assert _pool_size(f"import os; {started_by_django}") == 0
    assert _pool_size(f"import os; {started_by_django}; import rtcc_server.asgi") == 0


def test_the_environment_sets_the_pool_size_either_way() -> None:
    assert _pool_size("import rtcc_server.asgi", RTCC_DB_POOL_SIZE="4") == 4
    assert _pool_size("import os, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'rtcc_server.settings'; "
                      "django.setup()", RTCC_DB_POOL_SIZE="3") == 3


def test_only_a_server_hands_the_gil_to_its_database_threads_every_millisecond() -> None:
    # A Daphne's request and stream threads wait on PostgreSQL beside a busy event loop (rtcc_server/asgi.py).
    show = "import sys; print(sys.getswitchinterval())"
    assert float(_printed("import rtcc_server.asgi", show)) == 0.001
    started_by_django = ("import os, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'rtcc_server.settings'; "
                         "django.setup()")
    assert float(_printed(f"{started_by_django}; import rtcc_server.asgi", show)) == 0.005

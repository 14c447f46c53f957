"""Work for after the current transaction commits: the one way a service schedules a side effect.

Events only after commit (STYLE.md): a rolled-back change queues no task and wakes no one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.db import transaction


def after_commit(run: Callable[..., object], *args: Any, robust: bool = False, **kwargs: Any) -> None:
    """Call `run(*args, **kwargs)` once the current transaction commits (at once outside one).

    A Celery task goes as `after_commit(task.delay, ...)`. `robust`: a failure then (the broker or
    Redis down) is logged and does not fail the request; say what recovers the work when passing it.
    """
    transaction.on_commit(functools.partial(run, *args, **kwargs), robust=robust)

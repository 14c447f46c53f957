"""Signals other apps listen to without accounts knowing them.

`sessions_ended` is sent after commit with `user_ids`, the users some of whose
device sessions just ended (revoked, disabled, locked, role changed, signed
out): open sockets of theirs re-check at once instead of at their next interval.
"""

from __future__ import annotations

from django.dispatch import Signal

sessions_ended = Signal()

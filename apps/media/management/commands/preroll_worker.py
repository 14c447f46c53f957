"""The rolling pre-roll worker: keeps the last seconds of every camera pinned to an active call.

One thread per camera runs `apps.media.preroll.Preroll` (packets kept as received, no
transcoding); the set of cameras is read again every --refresh seconds, so a camera
pinned to a new call starts within that time and one whose call cleared stops.
About every second each camera's buffer is written, whole and atomically, to
MEDIA_PREROLL_DIR/camera-<id>.mov, where a clip job of that camera picks it up;
files of cameras no longer followed are deleted.
A camera whose stream fails is retried at the next refresh. The source URL holds
credentials: it is never printed or logged, only the camera's id and name.

    python manage.py preroll_worker [--seconds 15] [--refresh 10] [--run-for 0]
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection

from apps.cameras.models import Camera
from apps.cameras.selectors import cameras_pinned_to_active_calls
from apps.cameras.services import camera_source_url
from apps.media.preroll import DEFAULT_SECONDS, Preroll, preroll_camera_id, preroll_path
from apps.media.transcode import TranscodeError

logger = logging.getLogger(__name__)

WRITE_EVERY_S = 1.0


class PinnedCamera:
    """One camera's pre-roll and the thread that feeds it."""

    def __init__(self, camera: Camera, *, seconds: float):
        self.camera_id = camera.pk
        self.name = camera.name
        self.preroll = Preroll(camera_source_url(camera=camera), seconds=seconds)
        self.stopping = threading.Event()
        self.failure = ""
        self.thread = threading.Thread(target=self._run, name=f"preroll-{camera.pk}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.preroll.run(should_stop=self.stopping.is_set)
        except TranscodeError as exc:
            self.failure = exc.code
            logger.warning("pre-roll of camera %s stopped: %s", self.camera_id, exc.code)
        except Exception:
            self.failure = "internal_error"
            logger.exception("pre-roll of camera %s failed", self.camera_id)

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

    def stop(self) -> None:
        self.stopping.set()

    def write(self, directory: Path) -> bool:
        """Replace the camera's pre-roll file with what is held now; False if nothing is held yet."""
        try:
            self.preroll.write(preroll_path(directory, self.camera_id))
        except TranscodeError:
            return False  # nothing received yet, or the stream just ended
        except Exception as exc:
            # Not logged with its message: an FFmpeg error about the source could carry its URL.
            logger.warning("pre-roll of camera %s not written: %s", self.camera_id, type(exc).__name__)
            return False
        return True


def remove_unfollowed(directory: Path, following: set[int]) -> None:
    """Delete the pre-roll files (and leftovers of interrupted writes) of cameras not in `following`."""
    if not directory.is_dir():
        return
    for path in directory.iterdir():
        camera_id = preroll_camera_id(path)
        if camera_id is not None and camera_id not in following:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


class Command(BaseCommand):
    help = "Keep the last seconds of every camera pinned to an active call, so a clip can start before it was asked."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="Seconds kept per camera.")
        parser.add_argument("--refresh", type=float, default=10.0, help="Seconds between reads of the pins.")
        parser.add_argument("--run-for", type=float, default=0.0, help="Stop after this long (0: until signalled).")

    def handle(self, *args: Any, seconds: float, refresh: float, run_for: float, **options: Any) -> None:
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stop.set())
        deadline = time.monotonic() + run_for if run_for > 0 else None
        running: dict[int, PinnedCamera] = {}
        directory = Path(settings.MEDIA_PREROLL_DIR)
        directory.mkdir(parents=True, exist_ok=True)
        next_reconcile = time.monotonic()
        try:
            while not stop.is_set():
                if time.monotonic() >= next_reconcile:
                    self._reconcile(running, seconds=seconds)
                    remove_unfollowed(directory, set(running))
                    next_reconcile = time.monotonic() + refresh
                for held in running.values():
                    held.write(directory)
                wait = min(WRITE_EVERY_S, next_reconcile - time.monotonic())
                if deadline is not None:
                    if deadline - time.monotonic() <= 0:
                        break
                    wait = min(wait, deadline - time.monotonic())
                if stop.wait(max(0.0, wait)):
                    break
        finally:
            for held in running.values():
                held.stop()
            for held in running.values():
                held.thread.join(timeout=10)
            remove_unfollowed(directory, set())  # a pre-roll nobody refreshes must not be taken as fresh
            self._report(running)

    def _reconcile(self, running: dict[int, PinnedCamera], *, seconds: float) -> None:
        if not connection.in_atomic_block:  # (a test's transaction, which must stay open)
            close_old_connections()  # a worker that runs for days must not hold a dead connection
        pinned = {camera.pk: camera for camera in cameras_pinned_to_active_calls()}
        for camera_id in [c for c in running if c not in pinned or not running[c].alive]:
            running.pop(camera_id).stop()  # unpinned, call cleared, or its stream failed: retried below if pinned
        for camera_id, camera in pinned.items():
            if camera_id not in running:
                running[camera_id] = PinnedCamera(camera, seconds=seconds)
        self.stdout.write(f"pre-roll: {len(running)} camera(s) pinned to active calls")

    def _report(self, running: dict[int, PinnedCamera]) -> None:
        for held in running.values():
            state = f"failed ({held.failure})" if held.failure else f"{held.preroll.seconds_held:.1f} s held"
            self.stdout.write(f"camera {held.camera_id} {held.name}: {state}")

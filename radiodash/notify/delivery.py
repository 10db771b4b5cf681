"""Delivery: one worker thread per target, messages from the state file's outbox, retries with
exponential backoff.

Why a worker per target: a target that is down (a webhook timing out, a mail server refusing)
must not hold up the others, the scans or the dashboard; its messages wait in the outbox, in
order, and are retried after 1, 2, 4, 8… s (capped at `max_delay`). After the last try the
message is dropped and logged with the target masked. The outbox lives in the state file, so a
restart resumes the retries where they were.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from ..text import duration
from .state import StateStore
from .targets import Target

log = logging.getLogger("radiodash.notify.delivery")

DEFAULT_RETRIES = 10  # after the first try: 1 + 2 + 4 + … + 256 + 300 s ≈ 13.5 min of trying
FIRST_DELAY = 1.0
MAX_DELAY = 300.0


def backoff(tries: int, first: float = FIRST_DELAY, cap: float = MAX_DELAY) -> float:
    """Seconds to wait after the `tries`-th failed try (1, 2, 4, … × `first`, at most `cap`)."""
    return min(cap, first * 2 ** (tries - 1))


class Delivery:
    """The workers that empty the outbox (see the module docstring)."""

    def __init__(self, targets: list[Target], store: StateStore, *, retries: int = DEFAULT_RETRIES,
                 first_delay: float = FIRST_DELAY, max_delay: float = MAX_DELAY,
                 clock: Callable[[], float] = time.time) -> None:
        self.targets = list(targets)
        self.store = store
        self.retries = retries
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.clock = clock
        self.delivered = {t.id: 0 for t in self.targets}
        self.failed = {t.id: 0 for t in self.targets}  # given up after the last retry
        self._wake = {t.id: threading.Event() for t in self.targets}
        self._busy = {t.id: False for t in self.targets}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> "Delivery":
        if not self._threads:
            for t in self.targets:
                th = threading.Thread(target=self._work, args=(t,), name=f"radiodash-notify-{t.number}", daemon=True)
                th.start()
                self._threads.append(th)
        return self

    def wake(self) -> None:
        """New messages are in the outbox."""
        for ev in self._wake.values():
            ev.set()

    def _work(self, target: Target) -> None:
        wake = self._wake[target.id]
        while not self._stop.is_set():
            try:
                row = self.store.next_due(target.id, self.clock())
                if row is None:
                    nxt = self.store.next_time(target.id)
                    wait = 60.0 if nxt is None else min(60.0, max(0.01, nxt - self.clock()))
                    wake.wait(wait)
                    wake.clear()  # the outbox is read again right after: nothing added meanwhile is missed
                    continue
                self._busy[target.id] = True
                ok, why = target.send(row.title, row.body, row.notify_type)
                now = self.clock()
                if ok:
                    self.store.delivered(row.id)
                    self.delivered[target.id] += 1
                    if row.tries:
                        log.info("target %d (%s) took %r at try %d", target.number, target.masked, row.title,
                                 row.tries + 1)
                    continue
                tries = row.tries + 1
                first = row.first_try if row.first_try is not None else now
                if tries > self.retries:
                    self.store.give_up(row.id)
                    self.failed[target.id] += 1
                    log.error("could not deliver %r to target %d (%s) after %d tries over %s: %s", row.title,
                              target.number, target.masked, tries, duration(now - first), why)
                else:
                    delay = backoff(tries, self.first_delay, self.max_delay)
                    self.store.retry_later(row.id, tries, now + delay, first, why)
                    log.warning("target %d (%s) did not take %r (try %d of %d: %s); next try in %s", target.number,
                                target.masked, row.title, tries, self.retries + 1, why, duration(delay))
            except Exception:  # noqa: BLE001 - the worker outlives a bad row or a closed store
                if self._stop.is_set():
                    return
                log.exception("the delivery worker of target %d failed; it goes on", target.number)
                self._stop.wait(1.0)
            finally:
                self._busy[target.id] = False

    def idle(self) -> bool:
        """Nothing in the outbox and no send under way."""
        return not any(self._busy.values()) and self.store.pending() == 0

    def wait_idle(self, timeout: float) -> bool:
        """Wait until everything queued is delivered or given up (tests, a clean shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle():
                return True
            time.sleep(0.05)
        return self.idle()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the workers (what is still queued stays in the state file for the next start)."""
        self._stop.set()
        self.wake()
        deadline = time.monotonic() + timeout
        for th in self._threads:
            th.join(max(0.0, deadline - time.monotonic()))

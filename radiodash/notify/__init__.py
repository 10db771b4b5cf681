"""Notifications of every run under the roots, with nobody watching the page.

A `Watch` ties the parts together: a `fleet.Fleet` summarises every run each interval; the rules
(`rules.decide`) compare each summary with what the state file says was told; the messages
(`messages.compose`) go into the state file's outbox in the same transaction; one delivery worker
per Apprise target (`delivery.Delivery`) sends them, with retries and backoff. The same `Watch`
runs in `python -m radiodash watch` and inside the dashboard server (`ui/notifications.py`).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

from ..fleet import DEFAULT_INTERVAL, Fleet, RunSummary
from .delivery import DEFAULT_RETRIES, FIRST_DELAY, MAX_DELAY, Delivery, backoff
from .messages import Message, compose, link, test_message
from .rules import Change, Known, decide, is_news
from .state import StateLocked, StateStore, StateUnusable, default_state_dir
from .targets import ENV_CONFIG, ENV_URLS, Target, Targets, configs_from_env, install_redactor, load_targets, \
    remove_redactor, urls_from_env

log = logging.getLogger("radiodash.notify")

__all__ = ["Watch", "WatchSettings", "NoTargets", "StateLocked", "StateUnusable", "TestSend", "Message", "Change",
           "Known", "decide", "compose", "link", "backoff", "default_state_dir", "load_targets", "ENV_URLS", "ENV_CONFIG"]

#: The dashboard server's settings, beside RADIODASH_NOTIFY / RADIODASH_NOTIFY_CONFIG
ENV_BASE_URL = "RADIODASH_BASE_URL"
ENV_STATE = "RADIODASH_NOTIFY_STATE"
ENV_INTERVAL = "RADIODASH_NOTIFY_INTERVAL"
ENV_CHECKPOINTS = "RADIODASH_NOTIFY_CHECKPOINTS"


class NoTargets(ValueError):
    """No usable notification target (the message says why, URLs masked)."""


@dataclass(frozen=True)
class WatchSettings:
    """What a watcher watches, whom it tells, and how."""

    roots: tuple[str | Path, ...]  # local folders and URLs (`roots.Roots.parse`)
    urls: tuple[str, ...] = field(default=(), repr=False)  # secrets: never printed
    config_files: tuple[str, ...] = ()
    base_url: str | None = None
    interval: float = DEFAULT_INTERVAL
    state_dir: Path | None = None  # None: the per-user state folder
    checkpoints: bool = False
    retries: int = DEFAULT_RETRIES
    first_delay: float = FIRST_DELAY
    max_delay: float = MAX_DELAY

    @staticmethod
    def configured(environ: Mapping[str, str]) -> bool:
        """Whether the environment asks for notifications (RADIODASH_NOTIFY or RADIODASH_NOTIFY_CONFIG)."""
        return bool(urls_from_env(environ) or configs_from_env(environ))

    @classmethod
    def from_env(cls, environ: Mapping[str, str], roots: Iterable[str | Path], *,
                 base_url: str | None = None) -> "WatchSettings":
        """The server's settings: RADIODASH_NOTIFY, _NOTIFY_CONFIG, _BASE_URL, _NOTIFY_STATE, _NOTIFY_INTERVAL,
        _NOTIFY_CHECKPOINTS (`base_url`: the default when RADIODASH_BASE_URL is not set)."""
        state = (environ.get(ENV_STATE) or "").strip()
        interval = _seconds(environ.get(ENV_INTERVAL), ENV_INTERVAL)
        return cls(roots=tuple(roots), urls=tuple(urls_from_env(environ)), config_files=tuple(configs_from_env(environ)),
                   base_url=(environ.get(ENV_BASE_URL) or "").strip() or base_url,
                   interval=interval if interval is not None else DEFAULT_INTERVAL,
                   state_dir=Path(state).expanduser() if state else None,
                   checkpoints=(environ.get(ENV_CHECKPOINTS) or "").strip().lower() in ("1", "true", "yes"))


def _seconds(text: str | None, name: str) -> float | None:
    """A positive number of seconds from the environment; None when not set; ValueError saying which variable."""
    if not (text or "").strip():
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{name}={text.strip()!r} is not a positive number of seconds")
    return value


class TestSend:
    """A test notification on its way to every target (each on a thread of its own: the page never waits)."""

    def __init__(self, targets: list[Target], message: Message) -> None:
        self.total = len(targets)
        self.results: dict[int, tuple[bool, str]] = {}  # target number -> (accepted, why not)
        self._lock = threading.Lock()
        self._done = threading.Event()
        if not targets:
            self._done.set()
        for t in targets:
            threading.Thread(target=self._one, args=(t, message), daemon=True, name="radiodash-notify-test").start()

    def _one(self, t: Target, m: Message) -> None:
        res = t.send(m.title, m.body, m.notify_type)
        if not res[0]:
            log.warning("the test notification to target %d (%s) failed: %s", t.number, t.masked, res[1])
        with self._lock:
            self.results[t.number] = res
            if len(self.results) == self.total:
                self._done.set()

    def wait(self, timeout: float) -> bool:
        """Wait until every target answered (True) or `timeout` seconds passed (False)."""
        return self._done.wait(timeout)

    @property
    def done(self) -> bool:
        with self._lock:
            return len(self.results) == self.total

    @property
    def accepted(self) -> int:
        with self._lock:
            return sum(1 for ok, _ in self.results.values() if ok)

    @property
    def refused(self) -> list[int]:
        """The numbers of the targets that did not take it (no URL: the page shows these)."""
        with self._lock:
            return sorted(n for n, (ok, _) in self.results.items() if not ok)


class Watch:
    """A fleet, the notification rules, the state file and the delivery workers (see the module docstring).

    `start()` begins scanning; tests call `fleet.scan(now=…)` themselves instead (a controlled clock).
    Raises NoTargets when no target is usable and StateLocked when another watcher holds the state file.
    """

    def __init__(self, settings: WatchSettings, *, fleet: Fleet | None = None,
                 clock: Callable[[], float] = time.time, log_handlers: Iterable[logging.Handler] = ()) -> None:
        self.settings = settings
        self.targets: Targets = load_targets(settings.urls, settings.config_files)
        for p in self.targets.problems:
            log.error("%s: it is left out", p)
        if not self.targets.targets:
            given = len(settings.urls) + len(settings.config_files)
            raise NoTargets("no notification target given (--notify URL, RADIODASH_NOTIFY or an Apprise config "
                            "file)" if not given else "no usable notification target: " + "; ".join(self.targets.problems))
        self._handlers = list(log_handlers)
        self._redactor = install_redactor(self.targets.secrets, handlers=self._handlers)
        try:
            self.store = StateStore(settings.state_dir or default_state_dir(), settings.roots)
        except BaseException:
            remove_redactor(self._redactor, handlers=self._handlers)
            raise
        dropped = self.store.forget_targets(t.id for t in self.targets.targets)
        if dropped:
            log.warning("%d queued notification(s) for targets no longer configured were dropped", dropped)
        self.fleet = fleet if fleet is not None else Fleet(settings.roots, interval=settings.interval, clock=clock)
        self.delivery = Delivery(self.targets.targets, self.store, retries=settings.retries,
                                 first_delay=settings.first_delay, max_delay=settings.max_delay)
        self._known = self.store.known()
        self._last_scan = self.store.last_scan()
        self.queued = 0  # messages decided since start (each goes to every target)
        self.scans = 0
        self._lock = threading.Lock()
        self._closed = False
        self.fleet.subscribe(self.on_scan)

    @property
    def target_count(self) -> int:
        return len(self.targets.targets)

    def start(self, delay: float = 0.0) -> "Watch":
        """Deliver what the state file still holds, and scan every interval (the first scan after `delay` s)."""
        self.delivery.start()
        self.fleet.start(delay)
        return self

    def on_scan(self, summaries: tuple[RunSummary, ...], now: float) -> list[Message]:
        """Apply the rules to one scan's summaries; commit and queue the messages. Returns them."""
        with self._lock:
            if self._closed:
                return []
            changed: dict[str, Known] = {}
            messages: list[Message] = []
            for s in summaries:
                known = self._known.get(s.key)
                new, changes = decide(s, known, news=is_news(s, known, self._last_scan),
                                      checkpoints=self.settings.checkpoints)
                if new != known:
                    changed[s.key] = new
                messages += [compose(s, c, self.settings.base_url) for c in changes]
            first = self._last_scan is None
            self.store.commit(now, changed, messages, [t.id for t in self.targets.targets])
            self._known.update(changed)
            self._last_scan = now
            self.queued += len(messages)
            self.scans += 1
        if self.scans == 1:
            log.info("first scan: %d run(s)%s", len(summaries),
                     " taken as they are (the state file was new: nothing old is sent)" if first else
                     f"; {len(messages)} notification(s) for what changed since the last scan")
        for m in messages:
            log.info("notify: %s", m.title)
        if messages:
            self.delivery.wake()
        return messages

    def send_test(self) -> TestSend:
        """A test notification to every configured target (no retry: the answer is what the page shows)."""
        return TestSend(self.targets.targets, test_message(self.settings.base_url, self.target_count, len(self.fleet)))

    def pending(self) -> int:
        """Messages (× targets) still waiting for delivery."""
        return self.store.pending()

    def close(self, *, stop_fleet: bool = True) -> None:
        """Stop scanning (unless the fleet is shared) and delivering; the state file keeps the rest."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.fleet.unsubscribe(self.on_scan)
        if stop_fleet:
            self.fleet.stop()
        self.delivery.close()
        self.store.close()
        remove_redactor(self._redactor, handlers=self._handlers)


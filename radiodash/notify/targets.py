"""Where notifications go: Apprise targets (one URL syntax for Slack, Discord, Teams, Mattermost, e-mail,
ntfy, Telegram, Matrix, generic JSON/form webhooks…), each known by a hash and a masked form only.

Why so careful: a notification URL *is* a secret (a webhook token, a mail password). It is never
shown on a page, written to the state file or logged: the state file knows a target by the hash
of its URL, logs show Apprise's privacy form (`json://user:****@host/…`), and a `Redactor` filter
scrubs any raw URL or secret part of one from the log records of Apprise, urllib3 and RadioDash.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping
from urllib.parse import unquote

import apprise
from apprise import AppriseAsset, AppriseConfig, NotifyFormat
from apprise.common import PersistentStoreMode
from apprise.utils.cwe312 import cwe312_url

#: Environment: targets separated by spaces, and an Apprise config file (text or YAML)
ENV_URLS = "RADIODASH_NOTIFY"
ENV_CONFIG = "RADIODASH_NOTIFY_CONFIG"
#: loggers whose records may carry a target's URL or a part of one
REDACTED_LOGGERS = ("apprise", "urllib3.connectionpool", "radiodash.notify", "radiodash.notify.delivery")

_ASSET = AppriseAsset(app_id="RadioDash", app_desc="RadioDash training-run notifications",
                      storage_mode=PersistentStoreMode.MEMORY)  # no cache files in the user's home
_PARTS = re.compile(r"[/:@?&=#,;+\s]+")


def urls_from_env(environ: Mapping[str, str]) -> list[str]:
    """The URLs of `RADIODASH_NOTIFY` (several separated by spaces)."""
    return (environ.get(ENV_URLS) or "").split()


def configs_from_env(environ: Mapping[str, str]) -> list[str]:
    """The Apprise config files of `RADIODASH_NOTIFY_CONFIG` (several separated by ':', like RADIODASH_ROOT)."""
    return [p for p in (environ.get(ENV_CONFIG) or "").split(os.pathsep) if p.strip()]


def mask(url: str) -> str:
    """A URL with its secrets masked by Apprise (for a URL Apprise could not even parse)."""
    try:
        return str(cwe312_url(url))
    except Exception:  # noqa: BLE001 - unparseable: show only its scheme
        return url.split("://", 1)[0] + "://…" if "://" in url else "(not a URL)"


def secret_parts(full: str, masked: str) -> set[str]:
    """The pieces (4+ characters) of a service's URL that its privacy form hides, as written and decoded.

    Both forms come from the same Apprise plugin (`url()` and `url(privacy=True)`): same layout,
    so what differs is exactly what Apprise considers secret (tokens, passwords, keys).
    """
    shown = set(_PARTS.split(masked))
    hidden = {p for p in _PARTS.split(full) if len(p) >= 4 and p not in shown}
    return hidden | {unquote(p) for p in hidden}


class Target:
    """One notification target: its own Apprise object, so that each is sent to (and retried) alone."""

    def __init__(self, number: int, service, raw: str) -> None:
        self.number = number  # 1-based, in the order given
        self.id = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]  # what the state file knows it by
        self.masked = service.url(privacy=True)
        full = service.url(privacy=False)
        self.secrets = {raw, full} | secret_parts(full, self.masked)
        self._apprise = apprise.Apprise(asset=_ASSET)
        self._apprise.add(service)

    def send(self, title: str, body: str, notify_type: str) -> tuple[bool, str]:
        """Deliver once (no retry here); returns (accepted, why not — Apprise's own masked words)."""
        try:
            result = self._apprise.notify(body=body, title=title, notify_type=notify_type,
                                          body_format=NotifyFormat.TEXT)
        except Exception as e:  # noqa: BLE001 - a plugin's bug is a failed delivery, not a dead worker
            return False, f"{type(e).__name__} in Apprise"
        if result:
            return True, ""
        why = [getattr(e, "message", None) or str(e) for e in result.logs()]
        return False, "; ".join(w.strip() for w in why if w and w.strip()) or "the target did not accept it"

    def __repr__(self) -> str:  # never the URL
        return f"Target({self.number}, {self.masked})"


@dataclass
class Targets:
    """The targets that could be set up, and one sentence per one that could not (no URL in it)."""

    targets: list[Target] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # for logs: may hold a masked URL
    unusable: int = 0  # how many given targets could not be used (for a page: a count only)

    @property
    def secrets(self) -> set[str]:
        return set().union(*(t.secrets for t in self.targets)) if self.targets else set()


def load_targets(urls: Iterable[str], config_files: Iterable[str | os.PathLike] = ()) -> Targets:
    """Targets from URLs and Apprise config files, in that order; duplicates (same URL) once."""
    out = Targets()
    seen: set[str] = set()

    def add(service, raw: str) -> None:
        t = Target(len(out.targets) + 1, service, raw)
        if t.id not in seen:
            seen.add(t.id)
            out.targets.append(t)

    for i, url in enumerate(u for u in urls if u and u.strip()):
        service = apprise.Apprise.instantiate(url.strip(), asset=_ASSET)
        if service is None:
            out.unusable += 1
            out.problems.append(f"notification target {mask(url)} is not a URL Apprise understands")
        else:
            add(service, url.strip())
    for path in config_files:
        path = os.fspath(path)
        if not os.path.isfile(path):
            out.unusable += 1
            out.problems.append(f"the Apprise config file {path} does not exist")
            continue
        cfg = AppriseConfig(asset=_ASSET)
        services = cfg.services() if cfg.add(path) else []
        if not services:
            out.unusable += 1
            out.problems.append(f"the Apprise config file {path} holds no notification URL Apprise understands")
        for service in services:
            add(service, service.url(privacy=False))
    return out


class Redactor(logging.Filter):
    """Replaces every secret string (raw URLs and their hidden parts) in a log record by `****`."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for s in self.secrets:
            if s in text:
                text = text.replace(s, "****")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is left to logging
            return True
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info, record.exc_text = None, None
        clean = self.redact(text)
        if clean != text or record.args:
            record.msg, record.args = clean, None
        return True


def install_redactor(secrets: Iterable[str], *, handlers: Iterable[logging.Handler] = ()) -> Redactor:
    """Attach a Redactor to the loggers that may carry a URL (and to `handlers`); see `remove_redactor`."""
    r = Redactor(secrets)
    for name in REDACTED_LOGGERS:
        logging.getLogger(name).addFilter(r)
    for h in handlers:
        h.addFilter(r)
    return r


def remove_redactor(r: Redactor, *, handlers: Iterable[logging.Handler] = ()) -> None:
    for name in REDACTED_LOGGERS:
        logging.getLogger(name).removeFilter(r)
    for h in handlers:
        h.removeFilter(r)

"""`python -m radiodash …`: the same core the dashboard uses, for terminals and scripts."""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import warnings
from pathlib import Path

import numpy as np


def _window(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from-step", type=int, default=None, help="first step of the window (inclusive)")
    p.add_argument("--until-step", type=int, default=None, help="last step of the window (inclusive)")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m radiodash", description="RadioDiff training-log tools")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("parse", help="parse a log file or results folder into a table")
    p.add_argument("path")
    p.add_argument("--csv", required=True, help="output CSV (columns: step, time, segment, file, metrics…)")
    p.add_argument("--events", action="store_true",
                   help="write the event files' per-step table instead (columns: step, wall_time, one per tag)")

    p = sub.add_parser("analyze", help="phases, events, alerts, statistics as JSON")
    p.add_argument("path")
    p.add_argument("--json", action="store_true", help="print one JSON object (the default)")
    _window(p)

    p = sub.add_parser("report", help="training progress report (Markdown, optionally HTML)")
    p.add_argument("path")
    p.add_argument("-o", "--output", required=True, help="Markdown file to write")
    p.add_argument("--html", default=None, help="also write a standalone HTML report")
    _window(p)

    p = sub.add_parser("serve", help="serve the dashboard on the LAN (runs `streamlit run app.py`)")
    p.add_argument("--log", default=None, help="the run to open first (a .log file or a results folder; a path or "
                                               "an ssh:// URL)")
    p.add_argument("--root", action="append", default=None,
                   help="folder whose runs may be browsed (default: the log's parent); a path or an ssh:// URL; "
                        "give it several times for several roots")
    p.add_argument("--token-file", default=None,
                   help="file holding the access token teammates must enter (or set RADIODASH_TOKEN)")
    p.add_argument("--token", default=None, help=argparse.SUPPRESS)  # refused: see _serve
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="0.0.0.0", help="interface to listen on (0.0.0.0: the whole LAN)")
    _notify_flags(p, server=True)

    p = sub.add_parser("watch", help="notify (Slack, e-mail, ntfy, webhooks… via Apprise) when a run under the "
                                     "roots needs attention")
    p.add_argument("roots", nargs="+", metavar="ROOT", help="folder(s) whose runs are watched (new runs included)")
    _notify_flags(p, server=False)
    p.add_argument("--interval", type=float, default=None,
                   help="seconds between two looks at every run (default 10)")
    p.add_argument("--retries", type=int, default=None,
                   help="tries after a failed delivery, 1, 2, 4… s apart, at most 5 min (default 10)")

    p = sub.add_parser("simulate", help="write a simulated RadioDiff run into a results folder")
    p.add_argument("dir")
    try:
        from .simulate import add_arguments
    except ImportError:  # pragma: no cover - simulator not importable
        pass
    else:
        add_arguments(p)
    return ap


def _notify_flags(p: argparse.ArgumentParser, *, server: bool) -> None:
    """The notification flags `watch` and `serve` share (the README's "Notifications")."""
    p.add_argument("--notify", action="append", default=[], metavar="URL",
                   help="an Apprise URL to notify (repeat for several; also RADIODASH_NOTIFY, separated by spaces)")
    p.add_argument("--notify-config", action="append", default=[], metavar="FILE",
                   help="an Apprise config file of URLs (text or YAML; repeat for several; also RADIODASH_NOTIFY_CONFIG, "
                        "separated by ':')")
    p.add_argument("--base-url", default=None, metavar="URL",
                   help="the dashboard's address teammates open, for the links in messages (also RADIODASH_BASE_URL)"
                   + ("; default: this machine's name and the port" if server else ""))
    p.add_argument("--state", default=None, metavar="DIR",
                   help="folder of the watcher's state file (default: the per-user state folder, "
                        "$XDG_STATE_HOME/radiodash)")
    p.add_argument("--notify-checkpoints", action="store_true", help="also notify at each new checkpoint milestone")


def _problems_summary(snap) -> str:
    parts = [f"{len(snap.frame)} step records", f"{len(snap.segments)} launch(es)"]
    if snap.problem_count:
        parts.append(f"{snap.problem_count} damaged line(s), first: {snap.problems[0]}")
    if snap.other_lines:
        parts.append(f"{snap.other_lines} other line(s)")
    return "; ".join(parts)


APP = Path(__file__).resolve().parents[1] / "app.py"


def serve_command(args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    """The `streamlit run app.py` command line and environment for `serve`.

    The token never goes on a command line (`ps` shows every process's arguments to every user):
    `--token-file` is passed on as a path, RADIODASH_TOKEN stays in the environment.
    """
    env = serve_env(args, os.environ)
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(args.port),
           "--server.address", args.address]
    if args.token_file:
        cmd += ["--", "--token-file", os.path.abspath(args.token_file)]
    return cmd, env


def _serve(args: argparse.Namespace) -> int:
    """`streamlit run app.py` with the settings passed as RADIODASH_* variables and app arguments."""
    import subprocess

    if args.token is not None:
        print("radiodash: --token is not accepted (every user of this machine could read it with `ps`); "
              "put the token in a file readable only by you and pass --token-file FILE, "
              "or set RADIODASH_TOKEN", file=sys.stderr)
        return 2
    if args.token_file:
        from .ui.settings import SettingsError, read_token_file

        try:
            read_token_file(Path(args.token_file))
        except SettingsError as e:
            print(f"radiodash: {e}", file=sys.stderr)
            return 2
    cmd, env = serve_command(args)
    print(f"serving on http://{args.address}:{args.port} (Ctrl-C stops)", file=sys.stderr)
    try:
        return subprocess.call(cmd, env=env, cwd=APP.parent)
    except KeyboardInterrupt:
        return 0


def serve_env(args: argparse.Namespace, environ) -> dict[str, str]:
    """The server's environment: `serve`'s flags as RADIODASH_* variables over the caller's environment."""
    env = dict(environ)
    from .roots import is_url

    def where(text: str) -> str:
        return text if is_url(text) else os.path.abspath(text)

    if args.log:
        env["RADIODASH_LOG"] = where(args.log)
    if args.root:  # several roots: separated by spaces (URLs hold ':'), each quoted as a shell word
        env["RADIODASH_ROOT"] = " ".join(shlex.quote(where(r)) for r in args.root)
    # notifications: the server runs the watcher itself (ui/notifications.py) from these variables
    if args.notify:
        env["RADIODASH_NOTIFY"] = " ".join([*args.notify, *(env.get("RADIODASH_NOTIFY") or "").split()])
    if args.notify_config:  # several files: separated like RADIODASH_ROOT's folders
        env["RADIODASH_NOTIFY_CONFIG"] = os.pathsep.join(os.path.abspath(f) for f in args.notify_config)
    for key, value in (("RADIODASH_BASE_URL", args.base_url), ("RADIODASH_NOTIFY_STATE", args.state),
                       ("RADIODASH_NOTIFY_CHECKPOINTS", "1" if args.notify_checkpoints else None)):
        if value:
            env[key] = os.path.abspath(value) if key == "RADIODASH_NOTIFY_STATE" else value
    return env


def _watch(args: argparse.Namespace) -> int:
    """`watch`: scan every run under the roots each interval and notify; runs until Ctrl-C or SIGTERM."""
    import logging
    import signal
    import threading

    from .notify import ENV_BASE_URL, NoTargets, StateLocked, StateUnusable, Watch, WatchSettings
    from .notify.targets import configs_from_env, urls_from_env

    from .roots import is_url

    roots = [r if is_url(r) else Path(r) for r in args.roots]
    for r in roots:
        if isinstance(r, Path) and not r.is_dir():  # a URL's host may be down now: the watcher retries it
            raise CliError(f"{r} is not a folder" if r.exists() else f"{r} does not exist")
    if args.interval is not None and not args.interval > 0:
        raise CliError(f"--interval {args.interval:g} is not a positive number of seconds")
    if args.retries is not None and args.retries < 0:
        raise CliError(f"--retries {args.retries} is negative")
    config = [*args.notify_config, *configs_from_env(os.environ)]
    extra = {k: v for k, v in (("interval", args.interval), ("retries", args.retries)) if v is not None}
    settings = WatchSettings(roots=tuple(roots), urls=(*args.notify, *urls_from_env(os.environ)),
                             config_files=tuple(config), base_url=args.base_url or os.environ.get(ENV_BASE_URL) or None,
                             state_dir=Path(args.state).expanduser() if args.state else None,
                             checkpoints=args.notify_checkpoints, **extra)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name, level in (("radiodash", logging.INFO), ("apprise", logging.WARNING)):  # Apprise's INFO: every send
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(level)
    logging.getLogger("apprise").propagate = False
    try:
        watch = Watch(settings, log_handlers=[handler])
    except NoTargets as e:
        raise CliError(str(e)) from None
    except (StateLocked, StateUnusable) as e:
        raise CliError(str(e), 1) from None
    except OSError as e:
        raise CliError(f"cannot use the state folder: {e.strerror or e}: {e.filename or ''}".rstrip(": "), 1) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    names = ", ".join(f"{t.number}: {t.masked}" for t in watch.targets.targets)
    print(f"watching the runs under {', '.join(str(r) for r in roots)} every {watch.fleet.interval:g} s; "
          f"{watch.target_count} target(s) ({names}); state file {watch.store.path} (Ctrl-C stops)",
          file=sys.stderr, flush=True)
    watch.start()
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        watch.close()
    return 0


class CliError(Exception):
    """A problem with what the user asked: one line on stderr and a status, never a traceback."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def _output(path: str, what: str) -> Path:
    """An output file path whose folder exists and is writable (checked before any work is done)."""
    p = Path(path)
    if p.is_dir():
        raise CliError(f"cannot write the {what} to {p}: it is a folder")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        raise CliError(f"cannot write the {what} to {p}: the folder {parent} does not exist")
    if not parent.is_dir():
        raise CliError(f"cannot write the {what} to {p}: {parent} is not a folder")
    if not os.access(parent, os.W_OK):
        raise CliError(f"cannot write the {what} to {p}: the folder {parent} is not writable")
    return p


def _check_window(args: argparse.Namespace) -> None:
    lo, hi = getattr(args, "from_step", None), getattr(args, "until_step", None)
    for flag, v in (("--from-step", lo), ("--until-step", hi)):
        if v is not None and v < 0:
            raise CliError(f"{flag} {v} is negative: steps start at 0")
    if lo is not None and hi is not None and lo > hi:
        raise CliError(f"--from-step {lo:,} is after --until-step {hi:,}: no step can be in that window")


def _has_log_lines(snap) -> bool:
    """Any line the parser recognised as RadioDiff's: a step record, a validation record or a config header."""
    return bool(len(snap.frame) or len(snap.val_frame) or any(s.config is not None for s in snap.segments))


def _run(args: argparse.Namespace) -> int:
    from .run import open_run

    remote = "://" in args.path  # ssh://user@host/path or another fsspec URL: the source says what is missing
    path = args.path if remote else Path(args.path)
    if not remote and not path.exists():
        raise CliError(f"{path} does not exist")
    _check_window(args)
    outputs = {}
    if args.command == "parse":
        outputs["csv"] = _output(args.csv, "CSV")
    elif args.command == "report":
        outputs["md"] = _output(args.output, "Markdown report")
        if args.html:
            outputs["html"] = _output(args.html, "HTML report")
    try:
        run = open_run(path)
    except OSError as e:
        raise CliError(f"cannot read {path}: {e.strerror or e}", 1) from None
    snap = run.snapshot()
    run.close()
    if args.command == "parse" and args.events:
        return _parse_events(snap, path, outputs["csv"])
    if not _has_log_lines(snap):
        raise CliError(f"no RadioDiff log lines in {path}", 1)
    if args.command == "parse":
        from .report import table_csv

        outputs["csv"].write_text(table_csv(snap), encoding="utf-8")
        print(f"wrote {outputs['csv']}: {_problems_summary(snap)}", file=sys.stderr)
        return 0
    from .analysis import analyze

    result = analyze(snap, from_step=args.from_step, until_step=args.until_step)
    if result.records == 0 and (args.from_step is not None or args.until_step is not None):
        have = (f"the log has steps {int(snap.frame['step'].iloc[0]):,} to {int(snap.frame['step'].iloc[-1]):,}"
                if len(snap.frame) else "the log has no step lines")
        lo = f"{args.from_step:,}" if args.from_step is not None else "the first"
        hi = f"{args.until_step:,}" if args.until_step is not None else "the latest"
        raise CliError(f"no step record in steps {lo} to {hi}: {have}", 1)
    if args.command == "analyze":
        json.dump(result.to_json(), sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
        return 0
    from .report import write_report

    files = write_report(snap, result, outputs["md"], outputs.get("html"))
    wrote = [str(files.markdown)]
    if files.images:
        wrote.append(f"{len(files.images)} chart image(s) in {files.images[0].parent}")
    if files.html is not None:
        wrote.append(str(files.html))
    note = f" (no chart images: {files.image_problem})" if files.image_problem else ""
    print("wrote " + ", ".join(wrote) + note, file=sys.stderr)
    return 0


def _parse_events(snap, path, out: Path) -> int:
    """`parse --events`: the event files' per-step table (a second source: never mixed into the log's CSV)."""
    from .analysis.sources import event_tags
    from .report import events_csv

    tags = event_tags(snap.events)
    if not len(snap.events) or not tags:
        raise CliError(f"no TensorBoard event values in {path} (no events.out.tfevents.* file with a scalar)", 1)
    out.write_text(events_csv(snap), encoding="utf-8")
    notices = [n for n in snap.notices if "tfevents" in n]
    extra = f"; {len(notices)} notice(s), first: {notices[0]}" if notices else ""
    print(f"wrote {out}: {len(snap.events):,} steps × {len(tags)} tags from the event files{extra}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # a bad flag: argparse's usage line and status 2
    if args.command == "simulate":
        from .simulate import run_from_args

        return run_from_args(args)
    if args.command == "serve":
        return _serve(args)
    try:
        # nan/inf records are data here: numpy's warnings about them are not the user's business
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            return _watch(args) if args.command == "watch" else _run(args)
    except CliError as e:
        print(f"radiodash: {e}", file=sys.stderr)
        return e.status
    except OSError as e:  # a write that failed after the checks (disk full, permissions changed)
        where = e.filename or getattr(args, "path", "radiodash")
        print(f"radiodash: {where}: {e.strerror or e}", file=sys.stderr)
        return 1

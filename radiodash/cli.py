"""`python -m radiodash …`: the same core the dashboard uses, for terminals and scripts."""
from __future__ import annotations

import argparse
import json
import os
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
    p.add_argument("--log", default=None, help="the run to open first (a .log file or a results folder)")
    p.add_argument("--root", default=None, help="folder whose runs may be browsed (default: the log's parent)")
    p.add_argument("--token-file", default=None,
                   help="file holding the access token teammates must enter (or set RADIODASH_TOKEN)")
    p.add_argument("--token", default=None, help=argparse.SUPPRESS)  # refused: see _serve
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="0.0.0.0", help="interface to listen on (0.0.0.0: the whole LAN)")

    p = sub.add_parser("simulate", help="write a simulated RadioDiff run into a results folder")
    p.add_argument("dir")
    try:
        from .simulate import add_arguments
    except ImportError:  # pragma: no cover - simulator not importable
        pass
    else:
        add_arguments(p)
    return ap


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
    import os

    env = dict(os.environ)
    for key, value in (("RADIODASH_LOG", args.log), ("RADIODASH_ROOT", args.root)):
        if value:
            env[key] = os.path.abspath(value)
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
            return _run(args)
    except CliError as e:
        print(f"radiodash: {e}", file=sys.stderr)
        return e.status
    except OSError as e:  # a write that failed after the checks (disk full, permissions changed)
        where = e.filename or args.path
        print(f"radiodash: {where}: {e.strerror or e}", file=sys.stderr)
        return 1

"""`python -m radiodash …`: the same core the dashboard uses, for terminals and scripts."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _window(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from-step", type=int, default=None, help="first step of the window (inclusive)")
    p.add_argument("--until-step", type=int, default=None, help="last step of the window (inclusive)")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m radiodash", description="RadioDiff training-log tools")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("parse", help="parse a log file or results folder into a table")
    p.add_argument("path")
    p.add_argument("--csv", required=True, help="output CSV (columns: step, time, segment, file, metrics…)")

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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "simulate":
        from .simulate import run_from_args

        return run_from_args(args)
    if args.command == "serve":
        return _serve(args)

    from .run import open_run

    path = Path(args.path)
    if not path.exists():
        print(f"radiodash: {path} does not exist", file=sys.stderr)
        return 2
    run = open_run(path)
    snap = run.snapshot()
    run.close()
    if args.command == "parse":
        snap.frame.to_csv(args.csv, index=False)
        print(f"wrote {args.csv}: {_problems_summary(snap)}", file=sys.stderr)
        return 0
    from .analysis import analyze

    result = analyze(snap, from_step=args.from_step, until_step=args.until_step)
    if args.command == "analyze":
        json.dump(result.to_json(), sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
        return 0
    if args.command == "report":
        from .report import render_html, render_markdown

        out = Path(args.output)
        out.write_text(render_markdown(snap, result), encoding="utf-8")
        if args.html:
            Path(args.html).write_text(render_html(snap, result), encoding="utf-8")
        print(f"wrote {out}" + (f" and {args.html}" if args.html else ""), file=sys.stderr)
        return 0
    return 2  # pragma: no cover

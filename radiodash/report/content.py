"""What the report says, section by section, as a document tree (see document.py).

Order: what a supervisor needs first — the summary (state as of the report, the log's start and
end, progress, findings ranked by severity, what to do) — then key metrics, charts, phases, the
discriminator, statistics, checkpoints, launches, and the full configuration last. Every figure
comes from the Analysis at the log's precision (tests recompute each one from the parsed table);
every section covers the report's window, and says so.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from ..analysis import Analysis, window
from ..analysis.alerts import adversarial_share
from ..analysis.checkpoints import ON_DISK, cell_text, event_columns, file_of, log_columns, size_text
from ..analysis.common import flat_config
from ..analysis.sources import same_quantities
from ..model import Snapshot, as_number, config_value, metric_column, short_name
from ..radiodiff import d_weight_clamp, share_at_clamp
from ..text import duration, log_number, percent_text
from .document import Bullets, Chart, Code, Document, Para, Section, Strong, Table, Text, text
from .figures import key_metrics

STAGES = {"vae": "VAE-GAN autoencoder (stage 1)", "diffusion": "conditional latent diffusion (stage 2)"}
MAX_CHANGED_KEYS = 8


def steps_text(x: Any) -> str:
    return "—" if x is None else f"{int(x):,}"


def time_text(t: pd.Timestamp | None) -> str:
    return "—" if t is None or pd.isna(t) else t.strftime("%Y-%m-%d %H:%M:%S")


def value_text(v: Any) -> str:
    """A config value as the config wrote it (Python literal)."""
    return repr(v)


def change_text(st: dict) -> str:
    """Robust change (end − start) and a percentage only where the series keeps its sign."""
    if st.get("change") is None:
        return "—"
    out = log_number(st["change"])
    if st["change"] > 0:
        out = "+" + out
    if st.get("change_rel") is not None:
        out += f" ({st['change_rel']:+.1%})"
    else:
        out += " (crosses or starts at zero: no %)"
    return out


def window_text(a: Analysis) -> str | None:
    """'steps 35,000 to 104,800' for a window report, None for the whole run."""
    if a.window == (None, None):
        return None
    lo = f"{a.window[0]:,}" if a.window[0] is not None else "the first"
    hi = f"{a.window[1]:,}" if a.window[1] is not None else "the latest"
    return f"steps {lo} to {hi}"


def _config_numbers(config: dict | None) -> tuple[float | None, float | None, float | None]:
    return (as_number(config_value(config, "trainer", "log_freq")),
            as_number(config_value(config, "trainer", "save_and_sample_every")),
            as_number(config_value(config, "model", "lossconfig", "kl_weight")))


# ------------------------------------------------------------------ sections


def summary(snap: Snapshot, a: Analysis, frame: pd.DataFrame) -> Section:
    tp, st = a.throughput, a.run_state
    blocks: list = []
    if st is not None:
        as_of = datetime.fromtimestamp(st.as_of).strftime("%Y-%m-%d %H:%M")
        blocks.append(Para(text(Strong("State"), f" as of this report ({as_of}, this machine's clock): ",
                                st.description, ".")))
    stage = STAGES.get(a.stage or "", "stage unknown")
    blocks.append(Para(text("Run ", Code(snap.name), f": {stage}, {len(snap.segments)} launch(es) in "
                            f"{len(snap.files)} log file(s).")))
    ev = a.sources.get("events", {})
    if ev.get("steps"):
        blocks.append(Para(text(f"Its TensorBoard event files hold {ev['steps']:,} steps in view (every step, "
                                f"{len(ev['tags'])} tags, steps {ev['first_step']:,} to {ev['last_step']:,}): where "
                                "a finding comes from them, it says so.")))
    win = window_text(a)
    if win:
        blocks.append(Para(text(Strong("Window"), f": this report covers {win} — every section below is restricted "
                                "to it (the configuration is the newest launch's).")))
    first_t, last_t = a.steps.get("first_time"), a.steps.get("last_time")
    if first_t is not None:
        where = "In the window, the log" if win else "The log"
        blocks.append(Para(text(f"{where} runs from {time_text(first_t)} to {time_text(last_t)} (its own timestamps: "
                                f"the training machine's local time), {duration(tp.elapsed_seconds)} in all.")))
    else:
        blocks.append(Para(text("The log has no timestamps (a console capture): start, end and rates are unknown.")))
    log_freq, save_every, _ = _config_numbers(a.config)
    if tp.latest_step is not None:
        progress = (f"The window's last logged step is {tp.latest_step:,}" if win
                    else f"Latest logged step {tp.latest_step:,}")
        if tp.total_steps:
            progress += f" of {tp.total_steps:,} (train_num_steps): {tp.latest_step / tp.total_steps:.1%}"
        every = f"; the trainer logs one record every {int(log_freq):,} steps" if log_freq else ""
        blocks.append(Para(text(progress + f". {a.records:,} logged records in view{every}.")))
    else:
        blocks.append(Para(text("No training step is logged in view.")))
    if st is not None and st.show_eta and tp.eta_seconds is not None and tp.steps_per_hour:
        eta = f"At {tp.steps_per_hour:,.0f} steps per hour, train_num_steps is reached in about {duration(tp.eta_seconds)}"
        if tp.next_checkpoint_step is not None and save_every:
            eta += (f"; the next checkpoint, model-{tp.next_checkpoint_step // int(save_every)}.pt at step "
                    f"{tp.next_checkpoint_step:,}, in {duration(tp.eta_next_checkpoint_seconds)}")
        blocks.append(Para(text(eta + ".")))
    blocks.append(Para(text(Strong("Findings"), " (most severe first):")))
    if a.alerts:
        blocks.append(Bullets(tuple(text(Strong(al.severity), " ", Code(al.code), ": ", al.message) for al in a.alerts)))
    else:
        blocks.append(Bullets((text("No problems found."),)))
    actions = list(dict.fromkeys(al.action for al in a.alerts if al.action))
    blocks.append(Para(text(Strong("What to do"), ":")))
    blocks.append(Bullets(tuple(text(x) for x in actions) or (text("Nothing needs action."),)))
    rows = [
        ("latest step", steps_text(tp.latest_step)),
        ("train_num_steps", steps_text(tp.total_steps)),
        ("progress", f"{tp.latest_step / tp.total_steps:.1%}" if tp.latest_step is not None and tp.total_steps else "—"),
        ("logged records in view", f"{a.records:,}"),
        ("log start (log time)", time_text(first_t)),
        ("log end (log time)", time_text(last_t)),
        ("elapsed, first to last line (every launch)", duration(tp.elapsed_seconds)),
        ("time inside launches", duration(tp.active_seconds)),
        ("steps per hour (inside launches)", f"{tp.steps_per_hour:,.0f}" if tp.steps_per_hour else "—"),
        ("log lines per hour", f"{tp.lines_per_hour:,.0f}" if tp.lines_per_hour else "—"),
    ]
    if st is not None and st.show_eta:
        rows.append(("ETA to train_num_steps", duration(tp.eta_seconds)))
        if tp.next_checkpoint_step is not None:
            rows.append(("next checkpoint", f"step {tp.next_checkpoint_step:,} in {duration(tp.eta_next_checkpoint_seconds)}"))
    else:
        rows.append(("ETA to train_num_steps", f"— (the run is {st.state if st else 'in an unknown state'})"))
    blocks.append(Table(("figure", "value"), tuple((text(k), text(v)) for k, v in rows), (False, True)))
    return Section("Summary", "summary", tuple(blocks))


def _metric_note(m: str, frame: pd.DataFrame, a: Analysis) -> Text:
    name = short_name(m)
    st = a.stats[m]
    if name == "d_weight":
        dw = as_number(config_value(a.config, "model", "lossconfig", "disc_weight"))
        share = share_at_clamp(frame[m].to_numpy(float), dw) if dw else None
        if share:
            return text(f"at its clamp {d_weight_clamp(dw):,.0f} (1e4 × disc_weight) on {share:.1%} of records")
    if name == "kl_loss":
        _, _, klw = _config_numbers(a.config)
        nll = metric_column(frame, "nll_loss")
        if klw is not None and nll is not None and st.get("end") is not None and a.stats[nll].get("end"):
            term = klw * st["end"]
            return text(f"loss term kl_weight × kl_loss = {klw:g} × {log_number(st['end'])} = {log_number(term)}, "
                        f"{percent_text(abs(term / a.stats[nll]['end']))} of nll_loss ({log_number(a.stats[nll]['end'])})")
    if st.get("non_finite"):
        return text(f"{st['non_finite']:,} nan/inf records left out")
    return text()


def key_metrics_section(snap: Snapshot, a: Analysis, frame: pd.DataFrame) -> Section:
    ms = key_metrics(snap, a)
    edge = next((a.stats[m]["edge_records"] for m in ms if a.stats[m].get("edge_records")), None)
    intro = text("Start and end are the medians of the first and last tenth of the records in view"
                 + (f" ({edge:,} records each)" if edge else "") + ", so one noisy record cannot move them; "
                 "flat: the change is within the record-to-record noise. Values at the log's precision.")
    rows = []
    for m in ms:
        s = a.stats[m]
        rows.append((text(Code(short_name(m))), text(log_number(s["start"])), text(log_number(s["end"])),
                     text(change_text(s)), text(s.get("trend") or "—"),
                     text(f"{log_number(s['min'])} ({steps_text(s['min_step'])})"),
                     text(f"{log_number(s['max'])} ({steps_text(s['max_step'])})"), _metric_note(m, frame, a)))
    table = Table(("metric", "start", "end", "change", "trend", "min (step)", "max (step)", "note"), tuple(rows),
                  (False, True, True, True, False, True, True, False))
    return Section("Key metrics", "key-metrics", (Para(intro), table) if rows else (Para(text("No key metric in view.")),))


def charts_section(figures: dict[str, str]) -> Section:
    intro = text("Raw values faint, smoothed (TensorBoard's EMA, weight 0.6) bold; phases shaded and numbered as in "
                 "the phases table; dashed lines: launches and resumes; dotted red line: the discriminator switching "
                 "on. The step axis covers the report's steps only.")
    blocks = [Para(intro)] + [Chart(key, title) for key, title in figures.items()]
    return Section("Charts", "charts", tuple(blocks) if figures else (Para(text("No chart: nothing in view.")),))


def phases_section(a: Analysis, frame: pd.DataFrame) -> Section:
    steps = frame["step"].to_numpy()
    rows = []
    for p in a.phases:
        n = int(np.searchsorted(steps, p.end_step, "right") - np.searchsorted(steps, p.start_step, "left"))
        rows.append((text(p.name), text(steps_text(p.start_step)), text(steps_text(p.end_step)), text(f"{n:,}"),
                     text(p.description)))
    intro = text("Phases split at launches, at the discriminator switching on, and where the main metric's trend "
                 "changes by more than its noise over at least 30 records. Changes compare the medians of each "
                 "phase's first and last tenth.")
    return Section("Phases", "phases", (Para(intro), Table(("phase", "from step", "to step", "records", "what happened"),
                                                           tuple(rows), (False, True, True, True, False))))


def discriminator_section(a: Analysis, frame: pd.DataFrame, has_chart: bool) -> Section:
    blocks: list = []
    if a.disc is None:
        return Section("Discriminator", "discriminator", (Para(text("No discriminator in this stage.")),))
    d = a.disc
    if d.first_on_step is not None:
        where = (f"between steps {d.last_off_step:,} and {d.first_on_step:,}" if d.last_off_step is not None
                 else f"at step {d.first_on_step:,} (the first step in view)")
        blocks.append(Para(text(f"Configured disc_start: {steps_text(d.configured_step)}. disc_factor turned from 0 to 1 "
                                f"{where}.")))
    else:
        blocks.append(Para(text(f"Configured disc_start: {steps_text(d.configured_step)}. disc_factor is 0 on every "
                                "record in view: the discriminator is not on yet.")))
    dw_c = metric_column(frame, "d_weight")
    dw = as_number(config_value(a.config, "model", "lossconfig", "disc_weight"))
    if dw_c is not None and dw:
        share = share_at_clamp(frame[dw_c].to_numpy(float), dw)
        if share is not None:
            blocks.append(Para(text(f"d_weight sits at its clamp ceiling 1e4 × disc_weight = {d_weight_clamp(dw):,.0f} "
                                    f"on {share:.1%} of records in view.")))
    adv = adversarial_share(a.decomposition, a.disc)
    if adv is not None:
        blocks.append(Para(text(f"After the switch, total_loss is lower by {log_number(adv['drop'])} on average; the "
                                f"adversarial term d_weight·disc_factor·g_loss changed by {log_number(adv['adv_change'])} "
                                f"and nll_loss by {log_number(adv['nll_change'])}.")))
    if has_chart:
        blocks.append(Chart("disc", "Discriminator: disc_factor and d_weight"))
    return Section("Discriminator", "discriminator", tuple(blocks))


def _stat_note(m: str, s: dict, frame: pd.DataFrame, a: Analysis) -> Text:
    name = short_name(m)
    notes = []
    if name == "lr" and a.lr is not None:
        logged = frame[m].to_numpy(float)
        logged = logged[np.isfinite(logged)]
        rec = a.lr["reconstructed"].to_numpy(float)
        rec = rec[np.isfinite(rec)]
        if logged.size and (logged == 0).mean() > 0.5 and rec.size:
            notes.append(f"printed with 5 decimals, it reads 0 on {(logged == 0).mean():.0%} of records; the "
                         f"optimizer's lr goes {rec[0]:.4g} → {rec[-1]:.4g} in view (reconstructed from the config's "
                         "lr, min_lr and train_num_steps): the run is not training at lr 0")
    if s.get("count") and s.get("min") == s.get("max"):
        if name == "logvar":
            notes.append(f"constant {log_number(s['min'])}: RadioDiff's loss does not optimise logvar, so it never changes")
        elif name != "lr" or not notes:
            notes.append(f"constant {log_number(s['min'])} on every record in view")
    if name == "disc_factor" and a.disc is not None and s.get("min") != s.get("max"):
        notes.append("0 before the discriminator switches on, 1 after")
    if s.get("non_finite"):
        notes.append(f"{s['non_finite']:,} nan/inf records left out")
    return text("; ".join(notes))


def statistics_section(a: Analysis, frame: pd.DataFrame) -> Section:
    rows = []
    for m, s in a.stats.items():
        rows.append((text(Code(short_name(m))), text(f"{s['count']:,}"), text(log_number(s["first"])),
                     text(log_number(s["last"])), text(f"{log_number(s['min'])} ({steps_text(s['min_step'])})"),
                     text(f"{log_number(s['max'])} ({steps_text(s['max_step'])})"), text(log_number(s["mean"])),
                     text(log_number(s["std"])), text(log_number(s["median"])), _stat_note(m, s, frame, a)))
    intro = text("Every logged metric over the records in view (nan/inf left out and counted). first and last are "
                 "single records; the key metrics table has the robust start and end.")
    return Section("Statistics", "statistics", (Para(intro), Table(
        ("metric", "records", "first", "last", "min (step)", "max (step)", "mean", "std", "median", "note"),
        tuple(rows), (False, True, True, True, True, True, True, True, True, False))))


#: The value columns of the checkpoint table (by short name), from each source that has them.
CHECKPOINT_METRICS = ("rec_loss", "nll_loss", "total_loss", "kl_loss", "loss_simple", "loss_vlb")


def checkpoints_section(snap: Snapshot, a: Analysis) -> Section | None:
    """Values at checkpoints. A run read from a log only (no listing of its folder, no event file) gets the
    milestones the log reached and their values, as it always did; a results folder gets the table a
    researcher picks a checkpoint from: the files on disk, the samples, and each source's values, labelled."""
    table = a.checkpoint_files
    ev_cols = [c for c in event_columns(table) if table[c].notna().any()]
    if not snap.artifacts and not ev_cols:
        return _log_checkpoints_section(snap, a)
    if table.empty:
        return None
    order = {name: i for i, name in enumerate(CHECKPOINT_METRICS)}

    def pick(cols: list[str]) -> list[str]:
        found = [c for c in cols if short_name(c.rsplit(" (", 1)[0]) in order]
        return sorted(found, key=lambda c: order[short_name(c.rsplit(" (", 1)[0])])

    log_cols, ev_cols = pick(log_columns(table)), pick(ev_cols)
    rows = []
    for _, r in table.iterrows():
        if r["checkpoint_status"] == ON_DISK:
            disk = text(f"{size_text(r['size_bytes'])}, {datetime.fromtimestamp(r['mtime']).strftime('%Y-%m-%d %H:%M:%S')}")
        else:
            disk = text(r["checkpoint_status"])
        samples = [Code(n) for n in (file_of(r, "sample"), file_of(r, "gt_sample")) if n]
        sample = text(*[p for i, c in enumerate(samples) for p in ((", ", c) if i else (c,))]) or text("—")
        rows.append((text(Code(r["checkpoint"])), text(steps_text(None if r["step"] is pd.NA else r["step"])), disk,
                     sample, text(steps_text(None if r["log_step"] is pd.NA else r["log_step"])),
                     *[text(cell_text(r, c)) for c in log_cols],
                     *([text(steps_text(None if r["event_step"] is pd.NA else r["event_step"]))] if ev_cols else []),
                     *[text(cell_text(r, c)) for c in ev_cols]))
    saved = int((table["checkpoint_status"] == ON_DISK).sum())
    intro = [f"Every model-K.pt in the results folder ({saved:,} on disk) and every milestone the run reached "
             "(saved at step K × save_and_sample_every), with the sample images of the same milestone. On disk: size "
             "and modification time (this machine's clock). Values: the log's last record at or before the step "
             "(logged step)"]
    if ev_cols:
        intro.append(" and the event files' value at the step (event step), each column labelled with its source")
        accum = a.sources.get("events", {}).get("gradient_accumulate_every")
        if same_quantities(a.config):
            intro.append(". With gradient_accumulate_every 1 both sources hold the same quantities (the log prints "
                         "the event value with 5 decimals)")
        else:
            why = f"under gradient_accumulate_every {accum}" if accum else "when the accumulation is not known"
            intro.append(f". The two sources are not the same quantities {why}: RadioDiff's event total_loss "
                         "(stage 1) and loss_simple (stage 2) are divided by the accumulation steps — compare a column "
                         "with itself, never across sources")
    header = ("checkpoint", "step", "on disk", "samples", "logged step", *[c for c in log_cols],
              *(["event step"] if ev_cols else []), *[c for c in ev_cols])
    numeric = (False, True, False, False, True, *[True] * len(log_cols), *([True] if ev_cols else []),
               *[True] * len(ev_cols))
    return Section("Values at checkpoints", "checkpoints", (Para(text("".join(intro) + ".")),
                                                             Table(header, tuple(rows), numeric)))


def _log_checkpoints_section(snap: Snapshot, a: Analysis) -> Section | None:
    if a.checkpoints.empty:
        return None
    cols = [m for m in key_metrics(snap, a) if m in a.checkpoints.columns]
    rows = [(text(Code(f"model-{int(r['milestone'])}.pt")), text(steps_text(r["step"])), text(steps_text(r["logged_step"])),
             *[text(log_number(r[m])) for m in cols]) for _, r in a.checkpoints.iterrows()]
    intro = text("Checkpoint model-K.pt is saved at step K × save_and_sample_every; the values are those of the last "
                 "logged record at or before it.")
    return Section("Values at checkpoints", "checkpoints", (Para(intro), Table(
        ("checkpoint", "step", "logged step", *[short_name(m) for m in cols]), tuple(rows),
        (False, True, True, *[True] * len(cols)))))


def _changes(a: Analysis, index: int, snap: Snapshot) -> Text:
    ev = next((e for e in a.events if e.kind == "config_changed" and e.detail["segment"] == index), None)
    if ev is None:
        return text("—" if index else "first launch")
    before = flat_config(snap.segments[ev.detail["previous_segment"]].config)
    after = flat_config(snap.segments[index].config)
    parts: list = []
    for k in ev.detail["changed"][:MAX_CHANGED_KEYS]:
        if parts:
            parts.append("; ")
        parts += [Code(k), ": ", Code(value_text(before[k])) if k in before else "(absent)", " → ",
                  Code(value_text(after[k])) if k in after else "(absent)"]
    more = len(ev.detail["changed"]) - MAX_CHANGED_KEYS
    if more > 0:
        parts.append(f"; and {more} more")
    return text(*parts)


def launches_section(snap: Snapshot, a: Analysis) -> Section:
    replaced = {e.detail["segment"]: e for e in a.events if e.kind == "superseded"}
    rows = []
    for s in a.segments:
        if a.window != (None, None) and not s["window_records"]:
            continue
        started = s["start_checkpoint"]
        started_text = text(Code(started)) if started else text("scratch (no checkpoint in its config)")
        if s["resumes_segment"] is not None:
            started_text = text(*started_text, f" — resumes launch {s['resumes_segment'] + 1}")
        e = replaced.get(s["index"])
        rep = (f"{e.detail['count']:,} records (steps {e.detail['from_step']:,} to {e.detail['to_step']:,}) by launch "
               f"{e.detail['by_segment'] + 1}") if e else "—"
        steps = (f"{s['window_first_step']:,} to {s['window_last_step']:,}" if s["window_first_step"] is not None
                 else "no step line")
        end = "completed" if s["completed"] else ("crashed" if s["crashed"] else "")
        rows.append((text(str(s["index"] + 1)), text(Code(s["file"].rsplit("/", 1)[-1])), text(steps),
                     text(f"{s['window_records']:,}"), text(steps_text(s["train_num_steps"])), started_text,
                     _changes(a, s["index"], snap), text(rep), text(end or "—")))
    intro = text("Each launch of the trainer (a log file, or a config header within one). steps and records: its "
                 "own logged records" + (" in the window" if a.window != (None, None) else "") + ", replaced ones "
                 "included; config changes compare with the previous launch's configuration.")
    return Section("Launches", "launches", (Para(intro), Table(
        ("launch", "file", "steps", "records", "train_num_steps", "started from", "config changes",
         "replaced by a later launch", "end"), tuple(rows), (True, False, True, True, True, False, False, False, False))))


def configuration_section(snap: Snapshot, a: Analysis) -> Section:
    flat = flat_config(a.config)
    if not flat:
        return Section("Configuration", "configuration", (Para(text("No configuration header in the log.")),))
    newest = next((s.index for s in reversed(snap.segments) if s.config is not None), None)
    intro = text(f"The configuration of the newest launch with one (launch {newest + 1}), every group and level; "
                 "earlier launches' differences are under Launches.")
    rows = tuple((text(Code(k)), text(Code(value_text(v)))) for k, v in flat.items())
    return Section("Configuration", "configuration", (Para(intro), Table(("setting", "value"), rows)))


def build(snap: Snapshot, a: Analysis, figures: dict[str, str]) -> Document:
    """The report of `snap` as analysed in `a` (its window, its state), with the charts in `figures`
    (chart key -> title)."""
    frame = window(snap.frame, *a.window)
    sections = [summary(snap, a, frame), key_metrics_section(snap, a, frame), charts_section(
        {k: v for k, v in figures.items() if k != "disc"}), phases_section(a, frame),
        discriminator_section(a, frame, "disc" in figures), statistics_section(a, frame),
        checkpoints_section(snap, a), launches_section(snap, a), configuration_section(snap, a)]
    return Document(text("Training progress report — ", Code(snap.name)), tuple(s for s in sections if s is not None))

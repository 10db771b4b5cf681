"""Health alerts: stable codes, a severity, and a message that says what to do."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ..model import as_number, config_value, metric_column
from ..text import log_number, percent_text
from .results import Alert, DiscSwitch, Event
from .sources import EVENTS, LEARNING_RATE_TAG, LOG, exact_lr, label
from ..radiodiff import d_weight_clamp, lr_factor, share_at_clamp


SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}

#: What to do about an alert (code, severity), one sentence each: the report's "What to do" list.
ACTIONS = {
    ("non_finite_loss", "error"): "Resume from the last checkpoint before the first non-finite step with a lower "
                                  "learning rate, or check AMP/fp16 overflow.",
    ("loss_spike", "warning"): "Look at the batches around the spike steps (a corrupt or extreme sample).",
    ("stalled", "warning"): "Check that the trainer process and its GPU are alive.",
    ("stopped", "warning"): "Resume the run from its last checkpoint if it should go on.",
    ("d_weight_at_clamp", "warning"): "Check the gradient norms of nll_loss and g_loss, or lower disc_weight.",
    ("discriminator_never_updated", "warning"): "Set gradient_accumulate_every: 2 so that the discriminator's "
                                                "optimizer steps.",
    ("kl_rising", "warning"): "Consider a smaller kl_weight.",
    ("decomposition_mismatch", "warning"): "Check that the config's kl_weight and disc_weight are the ones the loss "
                                           "used, and whether the loss has a term the log does not print.",
    ("total_loss_driven_by_adversarial_term", "info"): "Judge reconstruction by rec_loss and nll_loss, not by "
                                                       "total_loss.",
}


def ranked(alerts: list[Alert]) -> list[Alert]:
    """Errors first, then warnings, then information, each with its action (stable within a severity)."""
    out = [a if a.action or (a.code, a.severity) not in ACTIONS else replace(a, action=ACTIONS[(a.code, a.severity)])
           for a in alerts]
    return sorted(out, key=lambda a: SEVERITY_ORDER.get(a.severity, 3))


def lr_below_log_precision(frame: pd.DataFrame, config: dict[str, Any] | None,
                           events: pd.DataFrame | None = None) -> list[Alert]:
    """The log's lr reads 0.00000 on most records: say the real rate — exact from the event file's
    `Learning_Rate` when the run has one (its value at step s is the rate of step s + 1), else
    reconstructed from the config's schedule."""
    c = metric_column(frame, "lr")
    if c is None:
        return []
    logged = frame[c].to_numpy(float)
    logged = logged[np.isfinite(logged)]
    if not logged.size or (logged == 0).mean() <= 0.5:
        return []
    zero = f"The log prints lr with 5 decimals, so it reads 0.00000 on {(logged == 0).mean():.0%} of records, "
    exact = exact_lr(events) if events is not None else None
    if exact is not None:
        at, value = exact
        return [Alert("lr_below_log_precision", "info",
                      zero + f"but the optimizer's lr is {value:.4g} at step {at + 1:,}, exactly, in the per-step event "
                      f"values ({LEARNING_RATE_TAG} written at step {at:,}, after the scheduler stepped: one step ahead "
                      "of the log's lr). The run is not training at lr 0.", at + 1,
                      {"lr": value, "lr_step": at + 1, "event_step": at, "source": EVENTS})]
    lr = as_number(config_value(config, "trainer", "lr"))
    total = as_number(config_value(config, "trainer", "train_num_steps"))
    if not lr or lr <= 0 or not total:
        return []
    step = int(frame["step"].iloc[-1])
    min_lr = as_number(config_value(config, "trainer", "min_lr")) or 0.0
    factor = float(lr_factor(np.array([step]), total, min_lr)[0])
    now = lr * factor
    return [Alert("lr_below_log_precision", "info",
                  zero + f"but the optimizer's lr is {now:.3g} at step {step:,} (config lr {lr:g} × schedule factor "
                  f"{factor:.3f}). The learning-rate panel shows the schedule reconstructed from the config; "
                  "the run is not training at lr 0.", step, {"reconstructed_lr": now, "config_lr": lr, "source": LOG})]


def d_weight_at_clamp(frame: pd.DataFrame, config: dict[str, Any] | None) -> list[Alert]:
    c = metric_column(frame, "d_weight")
    dw = as_number(config_value(config, "model", "lossconfig", "disc_weight"))
    if c is None or not dw:
        return []
    clamp = d_weight_clamp(dw)
    share = share_at_clamp(frame[c].to_numpy(float), dw)
    if share is None or share <= 0.5:
        return []
    head = f"d_weight equals its clamp ceiling 1e4 × disc_weight = {clamp:,.0f} on {share:.1%} of records"
    f = metric_column(frame, "disc_factor")
    factor = frame[f].to_numpy(float) if f is not None else np.zeros(0)
    factor = factor[np.isfinite(factor)]
    if factor.size and not (factor > 0).any():
        # d_weight multiplies disc_factor·g_loss: while the discriminator is off it changes nothing yet
        start = as_number(config_value(config, "model", "lossconfig", "disc_start"))
        when = f" at step {start:,.0f} (disc_start)" if start else ""
        return [Alert("d_weight_at_clamp", "info",
                      f"{head}, but the discriminator is not on yet (disc_factor is 0 on every record in view), so "
                      f"d_weight has no effect on the loss so far. It starts to count when disc_factor turns 1{when}; "
                      "if it still sits at the ceiling then, the adaptive balance ‖∇nll‖ / ‖∇g_loss‖ is not working.",
                      None, {"clamp": clamp, "share_at_clamp": share, "discriminator_on": False})]
    return [Alert("d_weight_at_clamp", "warning",
                  f"{head}: the adaptive weight ‖∇nll‖ / ‖∇g_loss‖ is saturated, so the adversarial term is not "
                  "balanced adaptively. Check the gradient norms or lower disc_weight.", None,
                  {"clamp": clamp, "share_at_clamp": share, "discriminator_on": True})]


def discriminator_never_updated(frame: pd.DataFrame, config: dict[str, Any] | None,
                                disc: DiscSwitch | None) -> list[Alert]:
    accum = as_number(config_value(config, "trainer", "gradient_accumulate_every"))
    if disc is None or disc.first_on_step is None or metric_column(frame, "disc_loss") is not None or accum != 1:
        return []
    return [Alert("discriminator_never_updated", "warning",
                  f"disc_factor reached 1 at step {disc.first_on_step:,} but the log has no discriminator lines "
                  "(no disc_loss) and gradient_accumulate_every is 1: RadioDiff's trainer steps the "
                  "discriminator's optimizer only on the second accumulation pass, so the discriminator never "
                  "trains. Set gradient_accumulate_every: 2.", disc.first_on_step)]


def adversarial_share(decomp: pd.DataFrame | None, disc: DiscSwitch | None) -> dict[str, float] | None:
    """How much of the fall of total_loss after the switch is the adversarial term."""
    if decomp is None or disc is None or disc.first_on_step is None:
        return None
    before = decomp[decomp["step"] < disc.first_on_step]
    after = decomp[decomp["step"] >= disc.first_on_step]
    if before.empty or after.empty:
        return None
    drop = float(before["total_logged"].mean() - after["total_logged"].mean())
    adv = float(after["adv_term"].mean() - before["adv_term"].mean())
    nll = float(after["nll"].mean() - before["nll"].mean())
    if not np.isfinite(drop) or drop <= 0:
        return None
    return {"drop": drop, "adv_change": adv, "nll_change": nll, "share": -adv / drop}


def total_loss_driven_by_adversarial_term(decomp: pd.DataFrame | None, disc: DiscSwitch | None) -> list[Alert]:
    s = adversarial_share(decomp, disc)
    if s is None or s["share"] <= 0.5:
        return []
    return [Alert("total_loss_driven_by_adversarial_term", "info",
                  f"total_loss fell by {log_number(s['drop'])} on average after the discriminator switched on at step "
                  f"{disc.first_on_step:,}; {min(s['share'], 9.99):.0%} of that fall is the adversarial term "
                  f"d_weight·disc_factor·g_loss ({log_number(s['adv_change'])}), while nll_loss changed by "
                  f"{log_number(s['nll_change'])}. Judge reconstruction by rec_loss / nll_loss, not by total_loss.",
                  disc.first_on_step, s)]


def from_events(events: list[Event], with_events: bool = False) -> list[Alert]:
    """Alerts of the non-finite and spike events. `with_events`: the run has event values, so every
    sentence says which source a figure comes from (a log-only run's sentences stay as they were)."""
    out = []
    nf = [e for e in events if e.kind == "non_finite"]
    if nf:
        out.append(_non_finite_alert(nf, with_events))
    spikes = [e for e in events if e.kind == "spike"]
    if spikes:
        big = max(spikes, key=lambda e: e.detail["ratio"])
        where = label(big.detail.get("source"), with_events)
        out.append(Alert("loss_spike", "warning",
                         f"{len(spikes)} loss spike(s); the largest: {big.detail['metric']}{where} at step {big.step:,} was "
                         f"{big.detail['ratio']:.1f}× its local median ({log_number(big.detail['value'])} vs "
                         f"{log_number(big.detail['local_median'])}). Look at the batch/data around those steps.", big.step,
                         {"count": len(spikes), "steps": [e.step for e in spikes][:20],
                          "source": big.detail.get("source", LOG)}))
    return out


def _non_finite_alert(nf: list[Event], with_events: bool) -> Alert:
    """One alert for the non-finite values of both sources: each source's first step, metrics and counts."""
    def said(e: Event) -> str:
        per = e.detail["per_metric"]
        firsts = e.detail.get("first_step_per_metric", {})
        named = ", ".join(f"{m} from step {firsts[m]:,}" if m in firsts else m for m in e.detail["metrics"])
        unit = "values" if e.detail.get("source") == EVENTS else "cells"
        return (f"{named}; {e.detail['cells']:,} {unit} in all "
                f"({', '.join(f'{m}: {per[m]:,}' for m in e.detail['metrics'])})")

    first = min(nf, key=lambda e: (e.step, e.detail.get("source") != EVENTS))
    others = [e for e in nf if e is not first]
    msg = f"Non-finite values (nan/inf) from step {first.step:,}{label(first.detail.get('source'), with_events)}: {said(first)}."
    for e in others:
        msg += f" From step {e.step:,}{label(e.detail.get('source'), with_events)}: {said(e)}."
    msg += (" The run has diverged: resume from the last checkpoint before that step with a lower learning rate, or "
            "check AMP/fp16 overflow.")
    detail = {"metrics": first.detail["metrics"], "per_metric": first.detail["per_metric"],
              "source": first.detail.get("source", LOG)}
    for e in others:
        detail[e.detail.get("source", LOG)] = {"step": e.step, "metrics": e.detail["metrics"],
                                               "per_metric": e.detail["per_metric"]}
    return Alert("non_finite_loss", "error", msg, first.step, detail)


RESUME_KEYS = frozenset({"trainer.resume_milestone"})  # what a plain resume changes in the config


def launch_alerts(events: list[Event]) -> list[Alert]:
    """A launch whose configuration differs beyond a resume (another experiment merged into the run's
    view), and records a later launch replaced — neither happens silently."""
    out = []
    for e in events:
        if e.kind == "config_changed" and set(e.detail["changed"]) - RESUME_KEYS:
            keys = [k for k in e.detail["changed"] if k not in RESUME_KEYS]
            shown = ", ".join(keys[:8]) + (f" and {len(keys) - 8} more" if len(keys) > 8 else "")
            out.append(Alert("launch_config_changed", "warning",
                             f"Launch {e.detail['segment'] + 1} runs with a different configuration than launch "
                             f"{e.detail['previous_segment'] + 1} ({shown}): the run's charts and statistics join "
                             "them, so they may be two experiments shown as one.", e.step,
                             {"segment": e.detail["segment"], "changed": keys},
                             "Check that these launches belong to one experiment; if not, open each launch file "
                             "as a run of its own."))
        elif e.kind == "superseded":
            d = e.detail
            out.append(Alert("records_replaced", "info",
                             f"{d['count']:,} records of launch {d['segment'] + 1} (steps {d['from_step']:,} to "
                             f"{d['to_step']:,}) were logged again by launch {d['by_segment'] + 1}; the charts and "
                             f"statistics use launch {d['by_segment'] + 1}'s records for those steps.", e.step,
                             {"segment": d["segment"], "by_segment": d["by_segment"], "count": d["count"]}))
    return out


def from_state(state, latest: int | None) -> list[Alert]:
    """The state as an alert when it needs action: stalled (silent far past its usual interval) or
    stopped (silent past the stop threshold, unfinished). A finished or live run raises nothing."""
    if state is None or state.state not in ("stalled", "stopped"):
        return []
    detail = {"seconds_since_last_line": state.silent_seconds, "usual_interval_seconds": state.usual_interval_seconds}
    if state.state == "stalled":
        return [Alert("stalled", "warning", f"The run is {state.description}; it is unfinished: check that the "
                      "trainer process and its GPU are alive.", latest, detail)]
    return [Alert("stopped", "warning", f"The run {state.description} without finishing: it crashed or was "
                  "killed. Resume it from its last checkpoint if it should go on.", latest, detail)]


def kl_rising(frame: pd.DataFrame, config: dict[str, Any] | None) -> list[Alert]:
    c, nll_c = metric_column(frame, "kl_loss"), metric_column(frame, "nll_loss")
    klw = as_number(config_value(config, "model", "lossconfig", "kl_weight"))
    if c is None or len(frame) < 10:
        return []
    tail = frame.iloc[len(frame) * 3 // 4:]
    v = tail[c].to_numpy(float)
    ok = np.isfinite(v)
    if ok.sum() < 5:
        return []
    first, last = float(np.median(v[ok][:max(1, ok.sum() // 5)])), float(np.median(v[ok][-max(1, ok.sum() // 5):]))
    if not (first > 0 and last > first * 1.05):
        return []
    msg = (f"kl_loss is rising over the last quarter of the window ({log_number(first)} → {log_number(last)}, "
           f"×{last / first:.2f}; medians of its first and last fifth).")
    severity = "info"
    detail: dict[str, Any] = {"first": first, "last": last}
    if klw is not None and nll_c is not None:
        nll = float(np.nanmedian(tail[nll_c].to_numpy(float)))
        term = klw * last
        share = term / abs(nll) if nll else float("inf")
        detail.update(kl_weight=klw, kl_term=term, share_of_nll=share)
        if share < 0.01:
            msg += (f" Its loss term is kl_weight × kl_loss = {klw:g} × {log_number(last)} = {log_number(term)}, "
                    f"{percent_text(share)} of nll_loss ({log_number(nll)}): negligible at this weight; the latent is simply "
                    "using more capacity.")
        else:
            severity = "warning"
            msg += (f" Its loss term is kl_weight × kl_loss = {klw:g} × {log_number(last)} = {log_number(term)}, "
                    f"{percent_text(share)} of nll_loss ({log_number(nll)}): it now shapes the total loss; consider a smaller "
                    "kl_weight.")
    return [Alert("kl_rising", severity, msg, int(tail["step"].iloc[-1]), detail)]


def decomposition_mismatch(decomp: pd.DataFrame | None) -> list[Alert]:
    """Records whose total_loss misses its composition by more than print rounding and float32 arithmetic
    explain (`schedule.decomposition_tolerance`), on more than 1 % of records."""
    if decomp is None or decomp.empty:
        return []
    r = decomp["residual"].to_numpy()
    ok = np.isfinite(r)
    if not ok.any():
        return []
    bad = np.abs(r[ok]) > decomp["tolerance"].to_numpy()[ok]
    if bad.mean() <= 0.01:
        return []
    worst = int(np.argmax(np.abs(r[ok])))
    step = int(decomp["step"].to_numpy()[ok][worst])
    tol = float(decomp["tolerance"].to_numpy()[ok][worst])
    return [Alert("decomposition_mismatch", "warning",
                  f"total_loss ≠ nll_loss + kl_weight·kl_loss + d_weight·disc_factor·g_loss beyond print rounding and "
                  f"float32 arithmetic on {bad.mean():.1%} of records (largest residual {log_number(float(r[ok][worst]))} "
                  f"at step {step:,}, where rounding explains at most {log_number(tol)}): the config's kl_weight may "
                  "not be the one the loss used, or the loss has a term the log does not print.",
                  step, {"share": float(bad.mean()), "largest_residual": float(r[ok][worst]), "tolerance_there": tol})]

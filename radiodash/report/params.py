"""Step numbers typed into an address (`?rep_from=…&rep_until=…`): read them, or say in one sentence
why not — never an exception from a URL someone pasted."""
from __future__ import annotations

import re

MAX_STEP = 10**12  # far past any training run; larger numbers are a typo, not a step

_DIGITS = re.compile(r"^\+?\d+$")


def step_param(raw: str | None) -> tuple[int | None, str | None]:
    """(step, None) for a whole number of steps; (None, why not) otherwise; (None, None) when absent or 0."""
    if raw is None:
        return None, None
    s = str(raw).strip()
    if s == "":
        return None, None
    if s.startswith("-") and _DIGITS.match(s[1:]):
        return None, "is negative, and steps start at 0"
    if not _DIGITS.match(s):
        return None, "is not a whole number of steps"
    value = int(s)
    if value > MAX_STEP:
        return None, f"is beyond any training step (more than {MAX_STEP:,})"
    return (value or None), None

"""Overview: every run under every root, on every machine, in one table (radiodash/ui/overview.py)."""
from radiodash.ui import overview
from radiodash.ui import session as ui

ui.through_gate()
overview.render(ui.settings())

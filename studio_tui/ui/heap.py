"""The collector and a live dashboard: the heap at start-up is moved out of its sight once the first frame is up.

A dashboard ingesting a flood of events allocates a great many short-lived objects (segments, styles,
strips) every frame; each time the youngest generation fills, the collector runs, and every so often a
full collection walks every object in the process: the imported modules, Textual's CSS and widgets, the
state. Measured (bench/ingestion.py), full collections alone took a third of the dashboard's time.
`gc.freeze()` after start-up puts everything alive at that point into a permanent generation that
collections skip: they then walk only what the run itself has made since. Once per process (tests start
many apps in one process); a collection first, so no garbage is frozen with the rest.
"""

from __future__ import annotations

import gc

_frozen = False


def freeze_startup_heap() -> None:
    """Collect once, then freeze everything alive (the first call in a process only)."""
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.collect()
    gc.freeze()

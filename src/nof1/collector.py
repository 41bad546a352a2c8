"""The cyclic garbage collector around work on 100,000 patients at once.

Python frees an object when its last reference goes; the cyclic collector also looks for
objects that only refer to each other, and each of its full passes walks every object alive.
Work that builds hundreds of thousands of objects that stay alive (the rows of a patients
table, a triage of 100,000 patients, its JSON document) sets off pass after pass over them all:
seconds that free nothing. :func:`paused` stops the collector for such work;
:func:`young_only` runs it within that work for a part that makes garbage in cycles (the
per-patient reader, pandas), walking only the objects made since it began.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused", "young_only"]


@contextmanager
def paused() -> Iterator[None]:
    """The cyclic collector stopped within the block, then as it was (objects that are no
    cycle's are freed as always; cycles made within are collected after).

    Yields
    ------
    None
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def young_only() -> Iterator[None]:
    """The cyclic collector running within the block over the objects made in it: those made
    before are frozen meanwhile (:func:`gc.freeze`; not when something else froze objects, which
    unfreezing would release), then the collector as it was.

    Yields
    ------
    None
    """
    enabled = gc.isenabled()
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    gc.enable()
    try:
        yield
    finally:
        if not enabled:
            gc.disable()
        if freeze:
            gc.unfreeze()

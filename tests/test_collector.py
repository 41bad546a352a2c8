"""The cyclic collector paused around work on many patients comes back as it was."""

from __future__ import annotations

import gc

from nof1 import collector


def test_paused_and_young_only_leave_the_collector_as_it_was():
    assert gc.isenabled()
    with collector.paused():
        assert not gc.isenabled()
        with collector.young_only():
            assert gc.isenabled() and gc.get_freeze_count() > 0
        assert not gc.isenabled() and gc.get_freeze_count() == 0
    assert gc.isenabled()
    gc.disable()
    try:
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_young_only_collects_the_cycles_made_within():
    class Node:
        pass

    with collector.paused(), collector.young_only():
        node = Node()
        node.self = node
        del node
        assert gc.collect() > 0


def test_young_only_leaves_objects_frozen_by_others_frozen():
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with collector.young_only():
            assert gc.get_freeze_count() == frozen
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()

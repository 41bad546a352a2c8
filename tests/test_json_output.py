"""nof1.jsonout writes exactly ``json.dumps(doc, indent=2, ...)`` (issue 28).

Byte for byte, for every document: hypothesis-generated nested documents (dicts with every kind
of key, lists, tuples, empty containers, tables of flat rows, unicode, control characters, lone
surrogates, big and small floats, -0.0, big ints, bools, None, dates and other objects through
``default``), the same errors (NaN/inf with ``allow_nan=False``, cycles, objects ``default``
refuses), and the real documents of the packaged example as the command line prints them.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nof1 import jsonout
from nof1.cli import cli
from nof1.example import example_paths, example_series_path


def reference(doc, allow_nan=False, default=str):
    return json.dumps(doc, indent=2, allow_nan=allow_nan, default=default)


def outcome(fn):
    """What ``fn()`` returns, or the type and message of what it raises."""
    try:
        return ("ok", fn())
    except (ValueError, TypeError) as exc:
        return (type(exc), str(exc))


def same_as_json(doc, allow_nan=False, default=str):
    want = outcome(lambda: reference(doc, allow_nan, default))
    got = outcome(lambda: jsonout.dumps(doc, allow_nan=allow_nan, default=default))
    assert got == want
    return want[0] == "ok"


# -- generated documents -------------------------------------------------------------------


class Level(enum.IntEnum):
    LOW = 1


class Text(str):
    pass


class Number(float):
    def __repr__(self):  # json ignores it: float.__repr__
        return "Number!"


class Rows(list):
    pass


class Table(dict):
    pass


SPECIAL_TEXTS = [
    *["", "é", "\u2028", "\x00", "\x1f", "\x7f", '"', "\\", "\n", "\ud800", "a\udfffb", "😀"],
    *["},\n    {", "],\n  [", "{", "]", '", "', "\\u0000"],  # what the tables' fix-up looks for
]
texts = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x3F), max_size=8),
    st.sampled_from(SPECIAL_TEXTS),
    st.builds(Text, st.text(max_size=4)),
)
floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1e-320, 5e-324, 1.7976931348623157e308, 1e16, 1e-7, 0.1]),
    st.floats(allow_nan=False, allow_infinity=False).map(Number),
    st.floats(allow_nan=False, allow_infinity=False).map(np.float64),
)
specials = st.sampled_from([math.nan, math.inf, -math.inf, np.float64("nan")])
ints = st.one_of(st.integers(), st.integers(-(10**40), 10**40), st.just(Level.LOW), st.booleans())
others = st.one_of(  # through default=str
    st.dates(),
    st.datetimes(),
    st.decimals(allow_nan=False, places=3),
    st.builds(np.int64, st.integers(-(2**63), 2**63 - 1)),
    st.timedeltas(),
)
scalars = st.one_of(st.none(), texts, floats, ints)
keys = st.one_of(texts, st.integers(), floats, st.booleans(), st.none())


def flat(values):
    return st.one_of(
        st.lists(values, max_size=6),
        st.lists(values, max_size=4).map(tuple),
        st.dictionaries(keys, values, max_size=6),
    )


def tables(values):
    """Lists of flat rows: the shape the fast path takes in one call."""
    row = st.one_of(
        st.dictionaries(texts, values, min_size=1, max_size=5),
        st.lists(values, min_size=1, max_size=4),
        st.lists(values, min_size=1, max_size=3).map(tuple),
    )
    rows = st.one_of(
        st.lists(st.dictionaries(texts, values, min_size=1, max_size=5), min_size=1, max_size=8),
        st.lists(st.lists(values, min_size=1, max_size=4), min_size=1, max_size=8),
        st.lists(row, min_size=1, max_size=8),  # dicts, lists and tuples mixed
        st.lists(st.one_of(row, st.just({}), st.just([])), min_size=1, max_size=6),
    )
    return st.one_of(rows, rows.map(tuple))


def documents(leaves):
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            flat(leaves),
            tables(leaves),
            st.lists(children, max_size=5),
            st.lists(children, max_size=3).map(tuple),
            st.lists(children, max_size=3).map(Rows),
            st.dictionaries(keys, children, max_size=5),
            st.dictionaries(texts, children, max_size=3).map(Table),
        ),
        max_leaves=40,
    )


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(st.one_of(scalars, others)))
def test_same_bytes_as_json_dumps(doc):
    assert same_as_json(doc)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(st.one_of(scalars, specials)), st.booleans())
def test_same_nan_handling(doc, allow_nan):
    # allow_nan=False: the same ValueError (json's message, naming the value); True: NaN,
    # Infinity and -Infinity written as json writes them (demo.py's files)
    same_as_json(doc, allow_nan=allow_nan, default=None)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(st.one_of(scalars, others)))
def test_same_type_error_without_default(doc):
    # default=None as json.dumps: a TypeError naming the first object it cannot encode
    same_as_json(doc, allow_nan=True, default=None)


def test_fixed_cases():
    nan_row = [{"a": 1.0}, {"a": math.nan}]
    cases = [
        0, 1.5, -0.0, "x", None, True, [], {}, (), [[]], [{}], {"a": []}, [[1]], [{"a": 1}],
        [[1], [2, 3]], [{"a": 1}, {"a": 2}], [{"a": 1}, {}], [{"a": 1}, [2]], [(1, 2), [3]],
        {3: 2, 2.5: 3, True: 4, None: 5, "s": 6}, {"x": {"y": {"z": [1, [2, {"w": None}]]}}},
        [dt.date(2026, 1, 2), {"d": dt.date(2026, 1, 2)}], [math.nan], nan_row, {"k": math.inf},
        {math.nan: 1}, [[1.0, -math.inf]], [10**1000], [10**5000], Rows([1, 2]),
    ]  # fmt: skip
    for doc in cases:
        for allow_nan in (False, True):
            same_as_json(doc, allow_nan=allow_nan)
    assert jsonout.dumps({"d": dt.date(2026, 1, 2)}) == '{\n  "d": "2026-01-02"\n}'


def test_errors_as_json():
    # a cycle, through a list, a dict or default
    loop: list = [1]
    loop.append(loop)
    node: dict = {"a": 1}
    node["self"] = {"again": node}
    for doc in (loop, node, [object()]):
        same_as_json(doc, default=lambda o: [o])
    # keys json refuses
    same_as_json({(1, 2): 3})
    same_as_json({"a": 1, dt.date(2026, 1, 1): 2})

    # default returning something it then refuses
    def partial(o):
        if type(o) is object:
            return {"o": {1, 2}}
        raise TypeError(f"cannot encode {type(o).__name__}")

    same_as_json([1, object()], default=partial)
    same_as_json([1, {"o": object()}], default=None)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(st.one_of(scalars, others)), st.sampled_from([1, 2, 3, 7, 64]))
def test_same_bytes_in_any_chunks(doc, chunk):
    # the compact text is re-indented a chunk at a time: cuts anywhere (inside strings, between
    # a backslash and what it escapes, between two brackets) change nothing
    saved = jsonout._CHUNK
    jsonout._CHUNK = chunk
    try:
        assert outcome(lambda: jsonout.dumps(doc)) == outcome(lambda: reference(doc))
    finally:
        jsonout._CHUNK = saved


def test_write_writes_nothing_on_error(monkeypatch):
    monkeypatch.setattr(jsonout, "_CHUNK", 10_000)
    written = []
    with pytest.raises(ValueError, match="Out of range float values"):
        jsonout.write([{"a": 1.0}] * 10 + [{"b": math.nan}], written.append)
    assert written == []
    big = [{"row": i, "x": i / 7} for i in range(30000)] + [{"tail": [1, {"z": "é"}]}] * 9000
    jsonout.write(big, written.append)
    assert len(written) > 1 and "".join(written) == reference(big)


# -- the documents of the packaged example, as the command line prints them -----------------

PROTOCOL, DIARY = (str(p) for p in example_paths())
SERIES = str(example_series_path())


@pytest.mark.parametrize(
    "args",
    [
        ["analyze", PROTOCOL, DIARY],
        ["monitor", PROTOCOL, DIARY],
        ["monitor", PROTOCOL, DIARY, "--as-of", "2026-02-20"],
        ["series", SERIES],
        ["monitor", SERIES],
        ["monitor", SERIES, "--as-of", "2026-02-20"],
    ],
)
def test_command_line_documents(monkeypatch, args):
    # The document each command hands to the JSON writer, and what it prints: json.dumps's
    # bytes and a newline.
    seen = []
    encode = jsonout.encode

    def recording(document, **options):
        seen.append(document)
        return encode(document, **options)

    monkeypatch.setattr(jsonout, "encode", recording)
    result = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code in (0, 3, 4), result.output
    assert len(seen) == 1
    assert result.stdout == reference(seen[0]) + "\n"
    assert len(result.stdout) > 500


def test_demo_files(tmp_path, monkeypatch):
    # demo.py's files keep json.dumps(doc, indent=2): NaN allowed, no default
    seen = []
    encode = jsonout.encode

    def recording(document, **options):
        seen.append(document)
        return encode(document, **options)

    monkeypatch.setattr(jsonout, "encode", recording)
    from nof1.demo import run_demo

    run_demo(tmp_path)
    names = ["analysis.json", "monitor.json", "power.json", "series/series.json"]
    names.append("series/monitor.json")
    assert len(seen) == len(names)
    for name, doc in zip(names, seen, strict=True):
        assert (tmp_path / name).read_text("utf-8") == json.dumps(doc, indent=2), name

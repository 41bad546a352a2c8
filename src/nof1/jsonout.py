r"""JSON documents exactly as ``json.dumps(doc, indent=2, ...)`` writes them, but fast.

With ``indent`` CPython's :mod:`json` uses its pure-Python encoder: a generator per container and
a Python step per value, seconds for the tens of MB of a 100,000-patient series or monitor
document. This module writes the same bytes (tests/test_json_output.py checks them against
:func:`json.dumps` itself) with the C encoder (``json.encoder.c_make_encoder``, what
``json.dumps`` uses without ``indent``). Value for value the C encoder writes what the Python one
writes: strings by the same ``encode_basestring_ascii``, ints and floats by ``int.__repr__`` and
``float.__repr__``, the same spellings of null, true, false, NaN and Infinity, ``default``
called on the same objects in the same order, cycles detected the same way. Only the whitespace
differs, and ``indent=2`` adds exactly this (``json.encoder._make_iterencode``): a line break
and the items' indentation after the opening bracket of a non-empty container and after each
comma between items, and a line break and the container's own indentation before its closing
bracket. With ``ensure_ascii`` (and even without) a string never holds a raw line break, and
its own ``"`` and ``\`` are written ``\"`` and ``\\``. So, for a container:

- of scalars only (*flat*): the C encoder with the item separator ``","`` plus the line break
  and indentation of the items, then the two line breaks inside the brackets added;
- a list of non-empty flat containers (a *table*, the per-patient rows): the same with the
  rows' items' indentation, then :meth:`str.replace` re-indents the separators between rows.
  Those are the only places where a closing bracket, ``","`` and a line break, and an opening
  bracket follow each other: every line break of the text is a separator's, and a separator
  inside a row follows a scalar and precedes a key or a scalar, never a bracket;
- a small dict (the top of a document): item by item, each container in it by these rules;
- anything else: the C encoder writes it compactly (separators ``","`` and ``": "``) and
  :func:`_reindent` inserts the line breaks with numpy at the brackets and commas outside
  strings: a ``"`` ends or starts a string exactly when an even number of backslashes precedes
  it, and numbers and literals hold none of ``[]{},"``.

The two encoders differ on containers that are subclasses of list, tuple or dict (the C one
reads a list subclass's storage, not its ``__iter__``, and sizes containers without
``__len__``) and in the wording of some errors. So a container goes the C way only when every
container in it is exactly a list, tuple or dict (:func:`_plain`, a scan at C speed, which also
gives up on nesting deeper than ``_MAX_DEPTH``: there only json's own recursion may decide), and
when the C encoder raises anything (NaN or infinity with ``allow_nan=False``, a key or an object
it cannot encode, a cycle) the container is encoded again by a transcription of the Python
encoder, which raises :mod:`json`'s own error. The transcription also takes every container
that is not plain, runs of its plain items still going the C way.

The whole document is encoded before anything is written, so an error writes nothing (as
``json.dumps`` then ``write``). Left different: a ``default`` with side effects runs twice on a
container that ends in an error, and a document nested hundreds of levels deep raises
RecursionError at a depth that differs from :mod:`json`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import chain, compress
from json.encoder import encode_basestring_ascii
from operator import not_
from typing import Any

import numpy as np

try:  # the C accelerator; without it every container takes the Python way (same bytes)
    from _json import make_encoder as c_make_encoder
except ImportError:  # pragma: no cover - CPython always has it
    c_make_encoder = None

__all__ = ["dumps", "encode", "write"]

INDENT = "  "
_CONTAINERS = frozenset({list, tuple, dict})
_SCALARS = frozenset({str, int, float, bool, type(None)})
_ANY_CONTAINER = (list, tuple, dict)  # subclasses too, as isinstance() sees them
_IS_DICT = frozenset({dict}).__contains__
_IS_CONTAINER = _CONTAINERS.__contains__
_WALK = 32  # a plain dict of at most this many keys is walked by c_way, not re-indented whole
_MAX_DEPTH = 64  # deeper documents take the Python way (and its recursion limit)
_INF = float("inf")
_CHUNK = 1 << 22  # bytes of compact text re-indented at a time; also characters per write
# what each byte of compact JSON is to _reindent: 1 opens a container, 2 closes one, 3 separates
_KIND = np.zeros(256, dtype=np.int8)
_KIND[[ord("["), ord("{")]] = 1
_KIND[[ord("]"), ord("}")]] = 2
_KIND[ord(",")] = 3


class _NotPlain(Exception):
    """``default`` returned a container the C encoder would not write as the Python one."""


def _missing(o: Any) -> Any:
    """``json.JSONEncoder.default``: what ``json.dumps(default=None)`` calls."""
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


def _plain(o: list | tuple | dict) -> bool:
    """Whether every container in ``o`` (``o`` included) is exactly a list, tuple or dict, and
    ``o`` is nested at most ``_MAX_DEPTH`` levels (a cycle never ends: it is not plain).

    Level by level, with C-speed iteration (``map``, ``chain``, ``compress``) and a Python step
    per distinct type only; dict keys and other objects need no check (the C encoder writes
    keys as the Python one, and hands other objects to ``default`` in the same order).
    """
    level = [o]
    kinds = {type(o)}
    for _ in range(_MAX_DEPTH):
        if not kinds <= _CONTAINERS:
            return False
        if dict not in kinds:
            children = list(chain.from_iterable(level))
        elif len(kinds) == 1:
            children = list(chain.from_iterable(map(dict.values, level)))
        else:
            is_dict = list(map(_IS_DICT, map(type, level)))
            values = chain.from_iterable(map(dict.values, compress(level, is_dict)))
            items = chain.from_iterable(compress(level, map(not_, is_dict)))
            children = list(chain(values, items))
        types = list(map(type, children))
        kinds = set(types)
        if any(issubclass(kind, _ANY_CONTAINER) for kind in kinds - _CONTAINERS):
            return False
        kinds &= _CONTAINERS
        if not kinds:
            return True
        level = list(compress(children, map(_IS_CONTAINER, types)))
    return False


def _flat(o: list | tuple | dict) -> bool:
    """Whether a plain container holds scalars of the exact builtin types only."""
    values = o.values() if type(o) is dict else o
    return _SCALARS.issuperset(map(type, values))


def _table(rows: list | tuple | dict) -> bool:
    """Whether a plain container is a list or tuple of non-empty flat containers."""
    if type(rows) is dict or not all(rows) or not _CONTAINERS.issuperset(map(type, rows)):
        return False
    is_dict = list(map(_IS_DICT, map(type, rows)))
    values = chain.from_iterable(map(dict.values, compress(rows, is_dict)))
    items = chain.from_iterable(compress(rows, map(not_, is_dict)))
    return _SCALARS.issuperset(map(type, chain(values, items)))


def _safe(value: Any) -> bool:
    """Whether the C encoder writes ``value`` as the Python one (anything but a container that
    is not plain)."""
    return not isinstance(value, _ANY_CONTAINER) or (type(value) in _CONTAINERS and _plain(value))


def _reindent(text: str, level: int) -> Iterable[str]:
    """``text``, one value as the C encoder writes it with the separators ``","`` and ``": "``,
    as ``indent=2`` writes it at nesting ``level`` (see the module docstring), in pieces."""
    raw = text.encode("ascii")  # ensure_ascii: nothing else
    a = np.frombuffer(raw, dtype=np.uint8)
    n = a.size
    quotes = np.flatnonzero(a == ord('"'))
    backslashes = np.flatnonzero(a == ord("\\"))
    if backslashes.size:  # a quote after an odd run of backslashes is inside a string
        new_run = np.flatnonzero(np.diff(backslashes) != 1) + 1
        first = backslashes[np.concatenate([[0], new_run])]
        last = backslashes[np.concatenate([new_run - 1, [backslashes.size - 1]])]
        run = np.minimum(np.searchsorted(last, quotes - 1), last.size - 1)
        escaped = (last[run] == quotes - 1) & ((last[run] - first[run]) % 2 == 0)
        quotes = quotes[~escaped]
    depth = level
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        chunk = a[start:stop]
        at = np.flatnonzero(_KIND[chunk]) + start
        at = at[np.searchsorted(quotes, at) % 2 == 0]  # outside strings
        kind = _KIND[a[at]]
        delta = (kind == 1).astype(np.int64) - (kind == 2)
        after = depth + np.cumsum(delta)  # nesting after each bracket or comma
        if after.size:
            depth = int(after[-1])
        nxt = a[np.minimum(at + 1, n - 1)]
        prv = a[np.maximum(at - 1, 0)]
        opens, closes = kind == 1, kind == 2
        empty = (opens & ((nxt == ord("]")) | (nxt == ord("}")))) | (
            closes & ((prv == ord("[")) | (prv == ord("{")))
        )
        keep = ~empty
        # each line break goes before byte `before` of the chunk: after an opening bracket or a
        # comma, before a closing bracket
        before = (at - start + np.where(closes, 0, 1))[keep]
        width = 1 + len(INDENT) * after[keep]
        shift = np.cumsum(width) - width  # characters inserted before each line break
        out = np.full(chunk.size + int(width.sum()), ord(" "), dtype=np.uint8)
        added = np.zeros(chunk.size + 1, dtype=np.int32)  # characters inserted before each byte
        added[before] = width
        where = np.cumsum(added[:-1], dtype=np.int32)
        where += np.arange(chunk.size, dtype=np.int32)
        out[where] = chunk
        out[before + shift] = ord("\n")
        yield out.tobytes().decode("ascii")


class _Encoder:
    """One document's encoding into a list of pieces (see the module docstring)."""

    def __init__(self, allow_nan: bool, default: Callable[[Any], Any] | None) -> None:
        self.allow_nan = allow_nan
        self.default = _missing if default is None else default
        self.pieces: list[str] = []
        self.markers: dict[int, Any] = {}
        self._newline: list[str] = []
        self._c: dict[int | None, Any] = {}
        self._c_markers: dict[int, Any] = {}

    # -- helpers ----------------------------------------------------------------------------

    def newline(self, level: int) -> str:
        """``"\\n"`` and the indentation of ``level``."""
        while len(self._newline) <= level:
            self._newline.append("\n" + INDENT * len(self._newline))
        return self._newline[level]

    def checked_default(self, o: Any) -> Any:
        """``default(o)`` for the C encoder, refusing a result it would not write as the
        Python one."""
        value = self.default(o)
        if not _safe(value):
            raise _NotPlain
        return value

    def c_text(self, o: list | tuple | dict, item_level: int | None) -> str:
        """``o`` by the C encoder, items separated by ``","`` and, unless ``item_level`` is
        None, a line break and the indentation of that level."""
        encoder = self._c.get(item_level)
        if encoder is None:
            separator = "," if item_level is None else "," + self.newline(item_level)
            encoder = self._c[item_level] = c_make_encoder(
                self._c_markers,  # cycles through default are detected as json does
                self.checked_default,
                encode_basestring_ascii,
                None,
                ": ",
                separator,
                False,
                False,
                self.allow_nan,
            )
        self._c_markers.clear()  # an error leaves the containers it was in
        return "".join(encoder(o, 0))

    def c_way(self, o: list | tuple | dict, level: int) -> list[str] | None:
        """The pieces of a plain non-empty container, the C way; None when the C encoder raises
        (the Python way then raises json's own error)."""
        if c_make_encoder is None:
            return None
        try:
            if _flat(o):
                return self.flat(o, level)
            if _table(o):
                return self.table(o, level)
            if type(o) is dict and len(o) <= _WALK:
                return self.walk(o, level)
            text = self.c_text(o, None)
        except (ValueError, TypeError, RecursionError, _NotPlain):
            return None
        return list(_reindent(text, level))

    def walk(self, dct: dict, level: int) -> list[str] | None:
        """A small plain dict item by item, each container in it the C way: the tables under
        the few dicts at the top of a document then take the cheaper ways above. None for
        anything but str keys and values of the exact builtin types (the Python way then)."""
        newline = self.newline(level + 1)
        pieces = ["{" + newline]
        first = True
        for key, value in dct.items():
            if type(key) is not str:
                return None
            if first:
                first = False
            else:
                pieces.append("," + newline)
            pieces.append(encode_basestring_ascii(key) + ": ")
            kind = type(value)
            if kind in _SCALARS:
                pieces.append(self.scalar(value))  # NaN: ValueError, caught by c_way
            elif kind not in _CONTAINERS:
                return None
            elif not value:
                pieces.append("{}" if kind is dict else "[]")
            else:
                inner = self.c_way(value, level + 1)
                if inner is None:
                    return None
                pieces.extend(inner)
        pieces.append(self.newline(level) + "}")
        return pieces

    def flat(self, o: list | tuple | dict, level: int) -> list[str]:
        """A container of scalars: its items separated as ``indent`` separates them, the line
        breaks inside the brackets added."""
        text = self.c_text(o, level + 1)
        return [text[0] + self.newline(level + 1), text[1:-1], self.newline(level) + text[-1]]

    def table(self, rows: list | tuple, level: int) -> list[str]:
        """A list of non-empty containers of scalars (the per-patient rows): every separator
        indented as the rows' items, then those between rows re-indented (module docstring)."""
        text = self.c_text(rows, level + 2)
        kinds = set(map(type, rows))
        row_nl, item_nl = self.newline(level + 1), self.newline(level + 2)
        closers = ("}" if dict in kinds else "") + ("]" if kinds - {dict} else "")
        openers = ("{" if dict in kinds else "") + ("[" if kinds - {dict} else "")
        inner = text[2:-2]
        for close in closers:
            for open_ in openers:
                inner = inner.replace(
                    close + "," + item_nl + open_, row_nl + close + "," + row_nl + open_ + item_nl
                )
        head = "[" + row_nl + text[1] + item_nl
        return [head, inner, row_nl + text[-2] + self.newline(level) + "]"]

    def items_c_way(self, run: list, level: int, dict_items: bool) -> bool:
        """Write the items of ``run`` (values, or key-value pairs of a dict) at ``level + 1``
        the C way, as one container whose brackets are left out; False when the C encoder
        raises."""
        if dict_items:
            mapping = dict(run)
            if len(mapping) < len(run):  # a dict subclass's items() named a key twice
                return False
        pieces = self.c_way(mapping if dict_items else run, level)
        if pieces is None:
            return False
        head, tail = 1 + len(self.newline(level + 1)), 1 + len(self.newline(level))
        if len(pieces) == 1:
            self.pieces.append(pieces[0][head:-tail])
        else:
            self.pieces.append(pieces[0][head:])
            self.pieces.extend(pieces[1:-1])
            self.pieces.append(pieces[-1][:-tail])
        return True

    def floatstr(self, o: float) -> str:
        """``json.encoder``'s ``floatstr``."""
        if o != o:
            text = "NaN"
        elif o == _INF:
            text = "Infinity"
        elif o == -_INF:
            text = "-Infinity"
        else:
            return float.__repr__(o)
        if not self.allow_nan:
            raise ValueError("Out of range float values are not JSON compliant: " + repr(o))
        return text

    def mark(self, o: Any) -> int:
        markerid = id(o)
        if markerid in self.markers:
            raise ValueError("Circular reference detected")
        self.markers[markerid] = o
        return markerid

    # -- the Python way (json.encoder._make_iterencode, indent 2) ----------------------------

    def scalar(self, value: Any) -> str | None:
        """The text of a scalar as the Python encoder checks them, None for anything else."""
        if isinstance(value, str):
            return encode_basestring_ascii(value)
        if value is None:
            return "null"
        if value is True:
            return "true"
        if value is False:
            return "false"
        if isinstance(value, int):
            return int.__repr__(value)
        if isinstance(value, float):
            return self.floatstr(value)
        return None

    def value(self, o: Any, level: int) -> None:
        text = self.scalar(o)
        if text is not None:
            self.pieces.append(text)
        elif isinstance(o, list | tuple):
            self.sequence(o, level)
        elif isinstance(o, dict):
            self.mapping(o, level)
        else:
            markerid = self.mark(o)
            self.value(self.default(o), level)
            del self.markers[markerid]

    def sequence(self, lst: list | tuple, level: int) -> None:
        if not lst:
            self.pieces.append("[]")
            return
        if type(lst) in _CONTAINERS and _plain(lst):
            pieces = self.c_way(lst, level)
            if pieces is not None:
                self.pieces.extend(pieces)
                return
        markerid = self.mark(lst)
        separator = "," + self.newline(level + 1)
        self.pieces.append("[" + self.newline(level + 1))
        self.items(list(lst), level, separator, self.value, False)
        self.pieces.append(self.newline(level) + "]")
        del self.markers[markerid]

    def mapping(self, dct: dict, level: int) -> None:
        if not dct:
            self.pieces.append("{}")
            return
        if type(dct) is dict and _plain(dct):
            pieces = self.c_way(dct, level)
            if pieces is not None:
                self.pieces.extend(pieces)
                return
        markerid = self.mark(dct)
        separator = "," + self.newline(level + 1)
        self.pieces.append("{" + self.newline(level + 1))
        self.items(list(dct.items()), level, separator, self.item, True)
        self.pieces.append(self.newline(level) + "}")
        del self.markers[markerid]

    def items(self, items: list, level: int, separator: str, one, dict_items: bool) -> None:
        """The items of a container the Python way, save runs of items the C encoder writes as
        the Python one (a list of 100,000 rows with one odd row is still fast)."""
        append = self.pieces.append
        safe = [_safe(item[1] if dict_items else item) for item in items]
        i = 0
        while i < len(items):
            if i:
                append(separator)
            if safe[i]:
                j = i
                while j < len(items) and safe[j]:
                    j += 1
                if self.items_c_way(items[i:j], level, dict_items):
                    i = j
                    continue
            one(items[i], level + 1)
            i += 1

    def item(self, pair: tuple, level: int) -> None:
        """A dict's key and value the Python way (``level``: the value's)."""
        key, value = pair
        if isinstance(key, str):
            pass
        elif isinstance(key, float):
            key = self.floatstr(key)
        elif key is True:
            key = "true"
        elif key is False:
            key = "false"
        elif key is None:
            key = "null"
        elif isinstance(key, int):
            key = int.__repr__(key)
        else:
            raise TypeError(
                f"keys must be str, int, float, bool or None, not {key.__class__.__name__}"
            )
        self.pieces.append(encode_basestring_ascii(key))
        self.pieces.append(": ")
        self.value(value, level)


def encode(
    document: Any, *, allow_nan: bool = False, default: Callable[[Any], Any] | None = str
) -> list[str]:
    """The pieces of ``json.dumps(document, indent=2, allow_nan=allow_nan, default=default)``.

    ``"".join`` of them is that text, byte for byte (``default=None`` as ``json.dumps``: a
    TypeError for an object it cannot encode). Raises what ``json.dumps`` raises.
    """
    encoder = _Encoder(allow_nan, default)
    encoder.value(document, 0)
    return encoder.pieces


def dumps(
    document: Any, *, allow_nan: bool = False, default: Callable[[Any], Any] | None = str
) -> str:
    """``json.dumps(document, indent=2, allow_nan=allow_nan, default=default)``, fast."""
    return "".join(encode(document, allow_nan=allow_nan, default=default))


def write(
    document: Any,
    write: Callable[[str], Any],
    *,
    allow_nan: bool = False,
    default: Callable[[Any], Any] | None = str,
) -> None:
    """Write ``json.dumps(document, indent=2, ...)`` through ``write`` in chunks.

    The document is encoded whole first, so an error (NaN with ``allow_nan=False``, an object
    ``default`` cannot turn into JSON, a cycle) writes nothing.
    """
    for chunk in _batches(encode(document, allow_nan=allow_nan, default=default)):
        write(chunk)


def _batches(pieces: list[str]) -> Iterable[str]:
    """The pieces joined into chunks of about ``_CHUNK`` characters (a larger piece goes alone
    and uncopied)."""
    batch: list[str] = []
    size = 0
    for piece in pieces:
        if len(piece) >= _CHUNK:
            if batch:
                yield "".join(batch)
                batch, size = [], 0
            yield piece
            continue
        batch.append(piece)
        size += len(piece)
        if size >= _CHUNK:
            yield "".join(batch)
            batch, size = [], 0
    if batch:
        yield "".join(batch)

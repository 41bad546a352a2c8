"""JSON documents exactly as ``json.dumps(doc, indent=2, ...)`` writes them, but fast.

With ``indent`` CPython's :mod:`json` uses its pure-Python encoder: a generator per container and
a Python step per number, seconds for the tens of MB of a 100,000-patient series or monitor
document. This module writes the same bytes, checked by tests/test_json_output.py against
:func:`json.dumps` itself, with the C-accelerated pieces of :mod:`json`:

- A *flat* container (a list, tuple or dict whose items are all of the exact types str, int,
  float, bool or None, keys included) is encoded in one call of the C encoder
  (``json.encoder.c_make_encoder``, what ``json.dumps`` uses without ``indent``), its item
  separator set to ``",\\n"`` plus the indentation of the items. That is, item for item, what
  the Python encoder writes for the same container (each scalar by the same rule: strings by
  ``encode_basestring_ascii``, ints and floats by ``int.__repr__`` and ``float.__repr__``, the
  same NaN/Infinity spellings); only the line break after the opening bracket and before the
  closing one are added around it.
- A *table*, a non-empty list of non-empty flat containers (the per-patient rows), is encoded in
  one call too, every separator indented for the rows' items; the separators between the rows
  are then re-indented by :meth:`str.replace`. They are the only places where a closing bracket,
  ``",\\n"`` and an opening bracket follow each other: with ``ensure_ascii`` (and even without)
  a string never holds a raw line break, so every ``"\\n"`` of the output is a separator's, and a
  separator inside a row is preceded by a scalar (never a bracket) and followed by a key or a
  scalar (never a bracket).
- Anything else (the few containers above the tables, subclasses of the builtin types, objects
  given to ``default``) goes through a transcription of the Python encoder
  (``json.encoder._make_iterencode``): same order of checks, same errors.

A float out of range (NaN, +-inf) raises ValueError with ``allow_nan=False``; the C encoder's
message is shorter than the Python one, so a container where the C encoder raises is encoded
again the Python way, which raises :mod:`json`'s own error. Cycles raise ValueError("Circular
reference detected") as :mod:`json` does. The whole document is encoded before anything is
written, so an error writes nothing (as ``json.dumps`` then ``write``). One difference is left:
a document nested hundreds of levels deep raises RecursionError at a depth that differs from
:mod:`json`'s (nof1's documents are a few levels deep).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import chain
from json.encoder import encode_basestring_ascii
from typing import Any

try:  # the C accelerator; without it every container takes the Python way (same bytes)
    from _json import make_encoder as c_make_encoder
except ImportError:  # pragma: no cover - CPython always has it
    c_make_encoder = None

__all__ = ["dumps", "encode", "write"]

INDENT = "  "
_SCALARS = frozenset({str, int, float, bool, type(None)})
_CONTAINERS = frozenset({list, tuple, dict})
_INF = float("inf")
_CHUNK = 1 << 20  # characters per write


def _missing(o: Any) -> Any:
    """``json.JSONEncoder.default``: what ``json.dumps(default=None)`` calls."""
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


class _Encoder:
    """One document's encoding into a list of pieces (see the module docstring)."""

    def __init__(self, allow_nan: bool, default: Callable[[Any], Any] | None) -> None:
        self.allow_nan = allow_nan
        self.default = _missing if default is None else default
        self.pieces: list[str] = []
        self.markers: dict[int, Any] = {}
        self._newline: list[str] = []
        self._c: dict[int, Any] = {}

    # -- helpers ----------------------------------------------------------------------------

    def newline(self, level: int) -> str:
        """``"\\n"`` and the indentation of ``level``."""
        while len(self._newline) <= level:
            self._newline.append("\n" + INDENT * len(self._newline))
        return self._newline[level]

    def c_encode(self, o: Any, item_level: int) -> str | None:
        """``o`` by the C encoder, items separated as at ``item_level``; None without it."""
        if c_make_encoder is None:
            return None
        encoder = self._c.get(item_level)
        if encoder is None:
            encoder = self._c[item_level] = c_make_encoder(
                None,  # no cycle check: only flat containers and tables come here
                self.default,
                encode_basestring_ascii,
                None,
                ": ",
                "," + self.newline(item_level),
                False,
                False,
                self.allow_nan,
            )
        try:
            return "".join(encoder(o, 0))
        except ValueError:  # a float out of range: let the Python way raise json's message
            return None

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

    # -- the fast ways ----------------------------------------------------------------------

    def flat(self, o: list | tuple | dict, level: int) -> bool:
        """Encode a non-empty flat container in one C call; False when it is not one."""
        scalars = _SCALARS.issuperset
        if not scalars(map(type, o)) or (type(o) is dict and not scalars(map(type, o.values()))):
            return False
        text = self.c_encode(o, level + 1)
        if text is None:
            return False
        self.pieces.append(text[0] + self.newline(level + 1))
        self.pieces.append(text[1:-1])
        self.pieces.append(self.newline(level) + text[-1])
        return True

    def table(self, rows: list | tuple, level: int) -> bool:
        """Encode a non-empty list of non-empty flat containers in one C call; False when it is
        not one."""
        kinds = set(map(type, rows))
        if not kinds <= _CONTAINERS or not all(rows):
            return False
        if len(kinds) == 1:
            mappings, sequences = (rows, ()) if dict in kinds else ((), rows)
        else:
            mappings = [row for row in rows if type(row) is dict]
            sequences = [row for row in rows if type(row) is not dict]
        scalars = _SCALARS.issuperset
        if not (
            scalars(map(type, chain.from_iterable(sequences)))
            and scalars(map(type, chain.from_iterable(mappings)))  # the keys
            and scalars(map(type, chain.from_iterable(map(dict.values, mappings))))
        ):
            return False
        text = self.c_encode(rows, level + 2)
        if text is None:
            return False
        # Every separator came out as ",\n" and the rows' items' indentation; between two rows
        # it sits between a closing and an opening bracket, which no separator inside a row
        # does (see the module docstring). The replacements make such a separator the rows'
        # own and break the lines inside the brackets; what they write never matches again
        # (a row's separator is indented less than the items').
        row_nl, item_nl = self.newline(level + 1), self.newline(level + 2)
        closers = ("}" if mappings else "") + ("]" if sequences else "")
        openers = ("{" if mappings else "") + ("[" if sequences else "")
        inner = text[2:-2]
        for close in closers:
            for open_ in openers:
                inner = inner.replace(
                    close + "," + item_nl + open_, row_nl + close + "," + row_nl + open_ + item_nl
                )
        self.pieces.append("[" + row_nl + text[1] + item_nl)
        self.pieces.append(inner)
        self.pieces.append(row_nl + text[-2] + self.newline(level) + "]")
        return True

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
        if type(lst) in (list, tuple) and (self.flat(lst, level) or self.table(lst, level)):
            return
        markerid = self.mark(lst)
        append = self.pieces.append
        newline = self.newline(level + 1)
        separator = "," + newline
        append("[" + newline)
        first = True
        for value in lst:
            if first:
                first = False
            else:
                append(separator)
            self.value(value, level + 1)
        append(self.newline(level) + "]")
        del self.markers[markerid]

    def mapping(self, dct: dict, level: int) -> None:
        if not dct:
            self.pieces.append("{}")
            return
        if type(dct) is dict and self.flat(dct, level):
            return
        markerid = self.mark(dct)
        append = self.pieces.append
        newline = self.newline(level + 1)
        separator = "," + newline
        append("{" + newline)
        first = True
        for key, value in dct.items():
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
            if first:
                first = False
            else:
                append(separator)
            append(encode_basestring_ascii(key))
            append(": ")
            self.value(value, level + 1)
        append(self.newline(level) + "}")
        del self.markers[markerid]


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
    """The pieces joined into chunks of about ``_CHUNK`` characters (a larger piece, a table,
    goes alone and uncopied)."""
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

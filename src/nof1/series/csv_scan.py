"""Whether pyarrow may read a long CSV diary: its header, and a scan for what it reads otherwise.

The column-wise reader (:mod:`nof1.series.arrow`) reads a long CSV diary only when pyarrow reads
it cell for cell as the per-patient reader does (:func:`fast_readable`); otherwise the
per-patient reader reads the file and names the line it refuses.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from pathlib import Path

import numpy as np

__all__ = ["fast_readable", "header_names"]


def header_names(dpath: Path) -> list[str] | None:
    """The long CSV diary's header (names trimmed), or None when it is not comma-delimited UTF-8."""
    try:
        with dpath.open("rb") as fh:
            head = fh.read(1 << 20)
    except OSError:
        return None
    try:  # the first line, whatever ends it (CR, LF or both)
        first = re.split(rb"[\r\n]", head, maxsplit=1)[0].decode("utf-8-sig")
        names = next(csv.reader([first]), [])
    except (UnicodeDecodeError, csv.Error):
        return None
    if max((",", ";", "\t"), key=first.count) != ",":
        return None
    return [h.strip() for h in names]


def fast_readable(dpath: Path) -> bool:
    """True when pyarrow reads the long CSV diary cell for cell as the per-patient reader does.

    That is: UTF-8 text without NUL bytes, no line of :data:`~nof1.limits.MAX_CELL_CHARS` bytes or
    more, and every line holding a quote one record of well-formed CSV on its own (no quoted cell
    spanning lines). Otherwise the per-patient reader reads the file: it accepts or refuses it,
    naming the line, and the column-wise reader never answers differently. One pass over the file
    in blocks, a few milliseconds a megabyte; it keeps where each line ends for
    :func:`line_spans` (a file without CR), so that the file is not read a second time.
    """
    from ..limits import MAX_CELL_CHARS

    try:
        key = _file_key(dpath)
        with dpath.open("rb") as handle:
            ends = _scan(handle, MAX_CELL_CHARS)
    except OSError:
        return False  # the per-patient reader says why it cannot be read
    if ends is False:
        return False
    if ends is not None:
        _SPANS.clear()
        _SPANS.update(key=key, ends=ends)
    return True


def _scan(handle, longest: int) -> np.ndarray | bool | None:
    """:func:`fast_readable` over an open file, block by block (whole lines each): False, or
    the end of every line (its LF, or the file's end) when no line ends with CR, else None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    rest = b""
    offset = 0  # where ``rest`` starts in the file
    ends: list[np.ndarray] | None = []
    while True:
        chunk = handle.read(_SCAN_BLOCK)
        if not (chunk.isascii() and decoder.getstate()[0] == b""):  # ASCII is UTF-8
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError:
                return False
        if b"\0" in chunk:
            return False
        data = rest + chunk
        cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1 if chunk else len(data)
        rest = data[cut:]
        if len(rest) >= longest:
            return False
        block = data[:cut]
        stops = _line_ends(block)
        if not _plain_lines(block, stops, longest):
            return False
        if ends is not None and b"\r" in block:
            ends = None  # line_spans counts CR LF and lone CR itself
        if ends is not None:
            ends.append(stops.astype(_POSITION) + offset)
        offset += cut
        if not chunk:
            return None if ends is None else np.concatenate([np.zeros(0, _POSITION), *ends])


_SCAN_BLOCK = 1 << 24
_POSITION = np.int64


def _line_ends(block: bytes) -> np.ndarray:
    """Where each line of ``block`` (whole lines) ends: its CR or LF, or the block's end for a
    last line without a line break."""
    arr = np.frombuffer(block, dtype=np.uint8)
    breaks = arr == ord("\n")
    if b"\r" in block:
        breaks |= arr == ord("\r")
    ends = np.flatnonzero(breaks)
    if arr.size and arr[-1] not in (ord("\n"), ord("\r")):
        ends = np.append(ends, arr.size)  # the file's last line, without a line break
    return ends


def _plain_lines(block: bytes, ends: np.ndarray, longest: int) -> bool:
    """True when no line of ``block`` (whole lines, ending at ``ends``) has ``longest`` bytes or
    more, and the lines holding a quote are each one record that the csv module reads strictly.

    A line whose quotes enclose whole cells without a quote inside (``"P-01","a, b",3``) is one
    that pyarrow and the csv module read alike: its even-numbered quotes each open a cell (first
    on the line, or after a comma) and the next closes it (last on the line, or before a comma).
    As every line holds an even number of quotes (checked first), a quote's rank on its line
    has the parity of its rank in the block. The other lines go through the csv module.
    """
    arr = np.frombuffer(block, dtype=np.uint8)
    starts = np.concatenate(([0], ends[:-1] + 1))
    if ends.size and (ends - starts).max() >= longest:
        return False
    quotes = np.flatnonzero(arr == ord('"'))
    if not quotes.size:
        return True
    if (np.searchsorted(quotes, ends) % 2).any():  # a quoted cell left open at its line's end
        return False
    ok = np.ones(quotes.size, dtype=bool)
    opens, closes = quotes[0::2], quotes[1::2]
    before = arr[np.maximum(opens - 1, 0)]
    ok[0::2] = (opens == 0) | (before == ord(",")) | (before == ord("\n")) | (before == ord("\r"))
    after = arr[np.minimum(closes + 1, arr.size - 1)]
    ok[1::2] = (
        (closes + 1 == arr.size) | (after == ord(",")) | (after == ord("\n")) | (after == ord("\r"))
    )
    if ok.all():
        return True
    quoted = np.unique(np.searchsorted(ends, quotes[~ok]))  # the lines of those quotes
    spans = zip(starts[quoted].tolist(), ends[quoted].tolist(), strict=True)
    text = b"\n".join(block[a:b] for a, b in spans).decode("utf-8")
    try:
        records = sum(1 for _ in csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error:
        return False
    return records == quoted.size


def line_spans(dpath: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every line that is not empty of a CSV file: its number and its byte span (start, end,
    the line break left out). A line ends at LF, CR LF or a lone CR, as the per-patient reader
    counts lines; as pyarrow does, an empty line is no row. From the line ends that
    :func:`fast_readable` kept, or one pass over the file in blocks; the last file's answer is
    kept while the file is unchanged (size and modification time)."""
    key = _file_key(dpath)
    if _SPANS.get("key") != key:
        _SPANS.clear()
        _SPANS.update(key=key, spans=_line_spans(dpath))
    elif "spans" not in _SPANS:
        ends = _SPANS.pop("ends")  # LF line ends only: no CR in the file
        starts = np.concatenate(([0], ends[:-1] + 1))
        filled = ends > starts
        if filled.all():
            _SPANS["spans"] = (np.arange(1, ends.size + 1), starts, ends)
        else:
            _SPANS["spans"] = (np.flatnonzero(filled) + 1, starts[filled], ends[filled])
    return _SPANS["spans"]


def _file_key(dpath: Path) -> tuple[str, int, int]:
    """The file's resolved path, size and modification time."""
    info = dpath.stat()
    return str(dpath.resolve()), info.st_size, info.st_mtime_ns


_SPANS: dict = {}


def _line_spans(dpath: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    numbers, begins, ends_ = [], [], []
    line = 0  # lines ended before the block
    offset = 0  # the block's first byte in the file
    begin = 0  # where the current line starts in the file
    after_cr = False  # the previous block ended with CR (a leading LF is part of its break)
    with dpath.open("rb") as handle:
        while block := handle.read(_SCAN_BLOCK):
            arr = np.frombuffer(block, dtype=np.uint8)
            lf, cr = arr == 10, arr == 13
            ends = lf | cr
            ends[1:] &= ~(lf[1:] & cr[:-1])  # the LF of CR LF ends nothing
            lead = after_cr and bool(lf[0])
            ends[0] &= not lead
            if lead and begin == offset:
                begin += 1  # the line starts after the LF of the previous block's CR LF
            stops = np.flatnonzero(ends)
            if stops.size:
                starts = np.concatenate(([begin - offset], stops[:-1] + 1))
                # a line starting with the LF of CR LF starts one byte later
                later = np.zeros(stops.size, dtype=bool)
                inner = starts[1:]
                later[1:] = lf[inner] & cr[inner - 1]
                starts = starts + later
                filled = stops > starts
                numbers.append(line + 1 + np.flatnonzero(filled))
                begins.append(offset + starts[filled])
                ends_.append(offset + stops[filled])
                tail = stops[-1] + 1
                begin = offset + tail
                if tail < arr.size and lf[tail] and cr[tail - 1]:
                    begin += 1
            line += stops.size
            offset += arr.size
            after_cr = bool(cr[-1])
    if offset > begin:  # the last line, without a line break
        numbers.append(np.array([line + 1]))
        begins.append(np.array([begin]))
        ends_.append(np.array([offset]))
    if not numbers:
        return (np.zeros(0, dtype=np.int64),) * 3
    return tuple(np.concatenate(x).astype(np.int64) for x in (numbers, begins, ends_))


def row_lines(dpath: Path, rows: np.ndarray) -> np.ndarray:
    """The line number of each data row in ``rows`` (0-based, as pyarrow numbers them) of a
    long CSV diary that :func:`fast_readable` accepts (every record on one line): the header is
    the first line that is not empty."""
    return line_spans(dpath)[0][1 + np.asarray(rows, dtype=np.int64)]


def rows_text(dpath: Path, rows: np.ndarray) -> tuple[bytes, np.ndarray]:
    """The header and the data rows ``rows`` (ascending) of a long CSV diary that
    :func:`fast_readable` accepts, as one small CSV text, and the file's line number of each of
    its lines: the per-patient reader then reads a few patients without the whole file."""
    import mmap

    numbers, begins, ends = line_spans(dpath)
    take = np.concatenate(([0], 1 + np.asarray(rows, dtype=np.int64)))
    with dpath.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as m:
        text = b"\n".join(m[int(a) : int(b)] for a, b in zip(begins[take], ends[take], strict=True))
    return text + b"\n", numbers[take]

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
    in blocks, a few milliseconds a megabyte.
    """
    from ..limits import MAX_CELL_CHARS

    try:
        with dpath.open("rb") as handle:
            return _scan(handle, MAX_CELL_CHARS)
    except OSError:
        return False  # the per-patient reader says why it cannot be read


def _scan(handle, longest: int) -> bool:
    """:func:`fast_readable` over an open file, block by block (whole lines each)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    rest = b""
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
        if len(rest) >= longest or not _plain_lines(data[:cut], longest):
            return False
        if not chunk:
            return True


_SCAN_BLOCK = 1 << 24


def _plain_lines(block: bytes, longest: int) -> bool:
    """True when no line of ``block`` (whole lines) has ``longest`` bytes or more, and the lines
    holding a quote are each one record that the csv module reads strictly."""
    arr = np.frombuffer(block, dtype=np.uint8)
    breaks = arr == ord("\n")
    if b"\r" in block:
        breaks |= arr == ord("\r")
    ends = np.flatnonzero(breaks)
    if arr.size and arr[-1] not in (ord("\n"), ord("\r")):
        ends = np.append(ends, arr.size)  # the file's last line, without a line break
    starts = np.concatenate(([0], ends[:-1] + 1))
    if ends.size and (ends - starts).max() >= longest:
        return False
    quotes = np.flatnonzero(arr == ord('"'))
    if not quotes.size:
        return True
    line = np.searchsorted(ends, quotes)  # the line of each quote
    if (np.bincount(line) % 2).any():  # a quoted cell left open at the end of its line
        return False
    quoted = np.unique(line[~_whole_cells(arr, quotes, line, starts, ends)])
    if not quoted.size:
        return True
    spans = zip(starts[quoted].tolist(), ends[quoted].tolist(), strict=True)
    text = b"\n".join(block[a:b] for a, b in spans).decode("utf-8")
    try:
        records = sum(1 for _ in csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error:
        return False
    return records == quoted.size


def _whole_cells(arr, quotes, line, starts, ends) -> np.ndarray:
    """Per quote: True when its line quotes only whole cells without a quote inside
    (``"P-01","a, b",3``), which pyarrow and the csv module read alike: on each line, every
    even-numbered quote opens a cell (first on the line, or after a comma) and the next closes
    it (last on the line, or before a comma). The other lines go through the csv module."""
    first = np.r_[True, line[1:] != line[:-1]]
    rank = np.arange(quotes.size) - np.maximum.accumulate(
        np.where(first, np.arange(quotes.size), 0)
    )
    before = np.where(quotes > starts[line], arr[np.maximum(quotes - 1, 0)], ord(","))
    after = np.where(quotes + 1 < ends[line], arr[np.minimum(quotes + 1, arr.size - 1)], ord(","))
    ok = np.where(rank % 2 == 0, before == ord(","), after == ord(","))
    bad = np.bincount(line[~ok], minlength=int(line.max()) + 1) > 0
    return ~bad[line]


def line_spans(dpath: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every line that is not empty of a CSV file: its number and its byte span (start, end,
    the line break left out). A line ends at LF, CR LF or a lone CR, as the per-patient reader
    counts lines; as pyarrow does, an empty line is no row. One pass over the file in blocks;
    the last file's answer is kept while the file is unchanged (size and modification time)."""
    info = dpath.stat()
    key = (str(dpath.resolve()), info.st_size, info.st_mtime_ns)
    if _SPANS.get("key") != key:
        _SPANS.clear()
        _SPANS.update(key=key, spans=_line_spans(dpath))
    return _SPANS["spans"]


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

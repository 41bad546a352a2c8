"""An uploaded series folder (a zip), unpacked safely for one request.

This module owns the only place where the web app writes uploaded files to disk. A zip is checked
before anything is written: no absolute paths, no ``..``, no symlinks or other special entries, at
most :data:`MAX_MEMBERS` members and at most ten times the upload limit uncompressed (a zip bomb is
refused from its directory, and again while writing, since the directory can lie). The members go
into a private temporary folder (mode 700) removed when the request ends. Every file the series
file names must resolve inside that folder, and messages name files relative to it, so a page
never shows or opens a path of the server.
"""

from __future__ import annotations

import io
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ..errors import Nof1Error

if TYPE_CHECKING:
    from ..series import Series

__all__ = ["MAX_MEMBERS", "SERIES_FILE", "SeriesFolder", "ZipRefused", "unpacked_series"]

MAX_MEMBERS = 2000
"""The most members (files and folders) a series zip may hold."""

SERIES_FILE = "series.toml"
"""The series file looked for at the zip's root, or in its one top folder."""

_CHUNK = 64 * 1024
_PARQUET_MAGIC = b"PAR1"


class ZipRefused(Nof1Error):
    """A series zip that is refused; ``status`` is the HTTP status to answer (400 or 413)."""

    def __init__(self, message: str, status: int = 400) -> None:
        self.status = status
        super().__init__(message)


@dataclass(frozen=True)
class SeriesFolder:
    """A series unpacked for one request.

    Attributes
    ----------
    root
        The private folder holding the zip's members (removed after the request).
    series_file
        The series file inside it.
    """

    root: Path
    series_file: Path

    def relative(self, text: str) -> str:
        """``text`` with the private folder's path removed, so files read as in the zip."""
        return text.replace(f"{self.root}/", "").replace(str(self.root), ".")

    def path(self) -> Path:
        """The series file, once every file it names was found inside the folder (for the
        readers that take a path: :func:`nof1.series.analyze_path`,
        :func:`nof1.series.monitor_path`).

        Raises
        ------
        ZipRefused
            A file named by the series file lies outside the uploaded folder, or the series
            file cannot be read.
        """
        self._check_named_paths()
        return self.series_file

    def load(self) -> Series:
        """The series, once every file its series file names was found inside the folder.

        Raises
        ------
        ZipRefused
            A file named by the series file lies outside the uploaded folder.
            Or the series file cannot be used (as :meth:`nof1.series.Series.load` says, with
            paths relative to the zip).
        """
        from ..series import Series

        self._check_named_paths()
        try:
            return Series.load(self.series_file)
        except Nof1Error as exc:
            raise ZipRefused(self.relative(str(exc))) from None

    def _check_named_paths(self) -> None:
        from ..series.file import read_toml

        try:
            raw, _ = read_toml(self.series_file)
        except Nof1Error as exc:
            raise ZipRefused(self.relative(str(exc))) from None
        named: list[Any] = []
        header = raw.get("series")
        for table in (raw, header if isinstance(header, dict) else {}):
            named += [table[k] for k in ("template", "patients", "diary") if k in table]
        trials = raw.get("trials")
        if isinstance(trials, list):
            for entry in trials:
                if isinstance(entry, dict):
                    named += [entry[k] for k in ("protocol", "diary") if k in entry]
        base, root = self.series_file.parent, self.root.resolve()
        for name in named:
            if not isinstance(name, str):
                continue
            target = (base / name).resolve()
            if target != root and root not in target.parents:
                raise ZipRefused(
                    f"{self.relative(str(self.series_file))}: {name!r} lies outside the "
                    "uploaded folder; every file of a series must be inside the zip"
                )


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "an absolute path or a Windows path"
    if ".." in PurePosixPath(name).parts:
        return "a path with '..'"
    kind = stat.S_IFMT(info.external_attr >> 16)  # 0: the zip says nothing (a plain file)
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        return "a symbolic link" if kind == stat.S_IFLNK else "a special file (device, pipe)"
    return None


def _series_file(names: list[str]) -> str:
    if SERIES_FILE in names:
        return SERIES_FILE
    tops = {PurePosixPath(n).parts[0] for n in names if PurePosixPath(n).parts}
    nested = [n for n in names if len(PurePosixPath(n).parts) == 2 and n.endswith(SERIES_FILE)]
    if len(tops) == 1 and nested == [f"{next(iter(tops))}/{SERIES_FILE}"]:
        return nested[0]
    raise ZipRefused(
        f"the zip holds no {SERIES_FILE} at its root or in its one top folder; zip the series "
        "folder (the series file with its protocols and diaries)"
    )


@contextmanager
def unpacked_series(data: bytes, name: str, max_upload_bytes: int) -> Iterator[SeriesFolder]:
    """Unpack a series zip into a private temporary folder, removed when the block ends.

    Parameters
    ----------
    data
        The uploaded zip.
    name
        Its display name, for messages.
    max_upload_bytes
        The upload limit; the members may total ten times this uncompressed.

    Raises
    ------
    ZipRefused
        Not a zip, a member that could escape the folder or is not a plain file, too many
        members (400), too large uncompressed (413), or no series file. An error raised in the
        block (a series that cannot be read, an as-of date refused) comes out as ZipRefused
        with the private folder's path removed.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        raise ZipRefused(f"{name}: not a zip file; upload the series folder as a .zip") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise ZipRefused(
                f"{name}: {len(members)} members; a series zip may hold at most {MAX_MEMBERS}"
            )
        budget = 10 * max_upload_bytes
        if sum(m.file_size for m in members) > budget:
            raise _too_large(name, budget)
        for info in members:
            problem = _member_problem(info)
            if problem:
                raise ZipRefused(f"{name}: refused member {info.filename!r}: {problem}")
        series_name = _series_file([m.filename for m in members if not m.is_dir()])
        folder = Path(tempfile.mkdtemp(prefix="nof1-series-"))  # mode 700
        try:
            _extract(archive, members, folder, budget, name)
            _check_parquet(folder, budget, name)
            unpacked = SeriesFolder(folder, folder / series_name)
            try:
                yield unpacked
            except ZipRefused:
                raise
            except Nof1Error as exc:  # any message names the files as in the zip
                status = getattr(exc, "status", 400)
                raise ZipRefused(unpacked.relative(str(exc)), status) from None
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _check_parquet(folder: Path, budget: int, name: str) -> None:
    """Refuse a Parquet member whose data take more than the unpacked budget uncompressed, or
    whose rows are more than the series bound scaled to the budget (a Parquet file of a few
    kilobytes may declare millions of rows: the server would then fill its memory).

    A member is Parquet by its first bytes, not its name: a Parquet dataset folder is read
    whole, whatever its files are called (``d/part0`` as much as ``d/part0.parquet``)."""
    from ..limits import MAX_SERIES_DIARY_BYTES, MAX_SERIES_ROWS, check_parquet

    rows = MAX_SERIES_ROWS * budget // MAX_SERIES_DIARY_BYTES
    for path in sorted(p for p in folder.rglob("*") if _is_parquet(p)):
        try:
            check_parquet(path, budget, "file", rows, None, hint=None)
        except ValueError as exc:
            member = path.relative_to(folder).as_posix()
            raise ZipRefused(f"{name}: {member}: {exc}", status=413) from None


def _is_parquet(path: Path) -> bool:
    """True for a plain file that starts as a Parquet file does (``PAR1``)."""
    if path.is_symlink() or not path.is_file():
        return False
    with open(path, "rb") as file:
        return file.read(4) == _PARQUET_MAGIC


def _too_large(name: str, budget: int) -> ZipRefused:
    limit = budget / (1024 * 1024)
    return ZipRefused(f"{name}: more than {limit:g} MB once unpacked; refused", status=413)


def _extract(
    archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], folder: Path, budget: int, name: str
) -> None:
    """Write the members, counting the bytes really written (a zip's sizes can lie)."""
    written = 0
    root = folder.resolve()
    for info in members:
        target = (folder / info.filename).resolve()
        if root not in target.parents:
            raise ZipRefused(f"{name}: refused member {info.filename!r}: outside the folder")
        if info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with archive.open(info) as source, open(target, "xb") as out:
                while chunk := source.read(_CHUNK):
                    written += len(chunk)
                    if written > budget:
                        raise _too_large(name, budget)
                    out.write(chunk)
        except FileExistsError:
            raise ZipRefused(f"{name}: the member {info.filename!r} appears twice") from None
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as exc:
            raise ZipRefused(f"{name}: cannot unpack {info.filename!r}: {exc}") from None

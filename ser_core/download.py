"""Fetching a corpus a plugin declares as downloadable: download, verify, unpack, check, record.

:func:`download_corpus` is what ``serbench corpus download NAME`` runs, for a corpus whose
:class:`~ser_core.specs.CorpusSpec` ``source`` is a :class:`~ser_core.specs.DownloadSource`:

1. the destination (the corpus directory, default ``<data dir>/<name>``) and the data directory are
   checked writable, and the free space against the declared sizes, before any byte is fetched;
2. every file is fetched with ``pooch.retrieve``: pooch streams it to a temporary file, checks the
   declared MD5 or SHA-256 hash, and only then gives it its final name; a hash mismatch deletes the
   file and says so. The transfer itself (:class:`ResumableDownloader`) appends to
   ``<name>.part`` and continues an interrupted transfer with an HTTP ``Range`` request, so a
   partial file is never under the final name and is never mistaken for a complete one;
3. archives are unpacked into a temporary folder beside the corpus and moved into place only when
   complete (a damaged archive is deleted and named);
4. the corpus's strict content check (what ``serbench corpus info --strict`` does) runs on the
   result, and only a corpus that passes is recorded in ``locations.json``
   (:mod:`ser_core.locations`), where ``serbench run`` finds it without ``--corpus-path``.

Downloads and partial files live in ``<corpus dir>/.download/`` (hidden, so scans pass over it);
it is removed once the corpus is ready, unless archives are kept. ``pooch`` and ``requests`` are
imported only here, and this module only by the download command.

What serbench never does: replace a file it did not write. Every file it unpacks or places is listed
in ``<corpus dir>/.serbench-files`` (:data:`WRITTEN_LIST`); a file of the same name that is not on that
list (the user's own) makes the download stop before anything is moved, naming the file. Archives
with members that would land outside their folder, links or special files are refused as *unsafe*
(downloading them again cannot help). Every wait is bounded: each HTTP request has a connect and a
read timeout (:data:`TIMEOUT`), a server that stops sending ends the attempt with what arrived kept
for resumption, and a server sending more bytes than it announced is stopped at the announced size.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tarfile
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path
from typing import Callable, Protocol

from ser_core import config, locations
from ser_core.errors import CorpusError, OutputError, SerbenchError
from ser_core.outputs import check_writable_dir
from ser_core.plugins import Registered
from ser_core.specs import DownloadSource, ManualSource, RemoteFile, source_problems

#: Hidden folder inside the corpus directory for archives and partial downloads.
WORK_FOLDER = ".download"
#: Suffix of a file being downloaded: never the final name, so never taken for a complete file.
PARTIAL_SUFFIX = ".part"
CHUNK = 1 << 16
#: (connect, read) timeouts in seconds for each HTTP request: the most one wait for the server lasts.
TIMEOUT = (30, 120)
#: The list, in the corpus directory, of the files serbench wrote there (one relative path a line):
#: only those may be replaced by a later download.
WRITTEN_LIST = ".serbench-files"


class DownloadError(SerbenchError):
    """A download that could not complete: the message says what happened to the files and what to do."""


class TransferInterrupted(DownloadError):
    """A transfer that stopped part-way; what arrived is kept and the next attempt resumes it."""


class UnsafeArchive(DownloadError):
    """An archive whose members would be written outside their folder, or are links or devices."""


class UserFileInTheWay(DownloadError):
    """A file serbench did not write has the name of a corpus file; it is kept and nothing is moved."""


class NeedsLicence(SerbenchError):
    """The corpus's licence must be accepted (``--accept-licence``) before a scripted download."""


class ManualOnly(SerbenchError):
    """The corpus cannot be fetched by a script; ``source`` holds the steps to follow."""

    def __init__(self, corpus: str, source: ManualSource):
        super().__init__(f"corpus {corpus!r} cannot be downloaded by serbench; follow the manual steps.")
        self.source = source


class Progress(Protocol):
    """What the download reports as it goes (the CLI renders it with rich)."""

    def start(self, description: str, total: int | None, completed: int = 0) -> None: ...

    def advance(self, amount: int) -> None: ...

    def note(self, message: str) -> None: ...


class _Silent:
    def start(self, description: str, total: int | None, completed: int = 0) -> None:
        pass

    def advance(self, amount: int) -> None:
        pass

    def note(self, message: str) -> None:
        pass


@dataclass
class DownloadReport:
    """What a download did: where the corpus is, what was fetched, and the content check's result."""

    corpus: str
    directory: Path
    root: Path
    fetched: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    clips: int = 0
    recorded_in: Path | None = None
    already_there: bool = False


def default_directory(name: str) -> Path:
    """Where a corpus is downloaded to when no ``--to`` is given: ``<data dir>/<name>``."""
    return config.data_dir() / name


def _human(size: int | None) -> str:
    if size is None:
        return "size unknown"
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return ""  # unreachable


def _content_range_start(header: str | None) -> int | None:
    found = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", (header or "").strip())
    return int(found.group(1)) if found else None


def _content_range_total(header: str | None) -> int | None:
    found = re.fullmatch(r"bytes \d+-\d+/(\d+)", (header or "").strip())
    return int(found.group(1)) if found else None


class ResumableDownloader:
    """A pooch downloader that keeps what it received in ``<file>.part`` and resumes it.

    Called by pooch as ``downloader(url, output_file, pooch)``: continues ``partial`` from its current
    size with an HTTP ``Range`` request (starting over when the server ignores ranges), checks the
    total against the declared size, and only when every byte has arrived moves the partial file to
    ``output_file`` (pooch's temporary name, hashed before it gets the final name). A dropped
    connection raises :class:`DownloadError` and leaves ``partial`` for the next attempt.
    """

    def __init__(self, item: RemoteFile, partial: Path, progress: Progress):
        self.item = item
        self.partial = partial
        self.progress = progress
        self.calls = 0

    def __call__(self, url: str, output_file, pooch) -> None:  # noqa: ARG002 (pooch's signature)
        import requests

        self.calls += 1
        name = self.item.filename
        offset = self.partial.stat().st_size if self.partial.exists() else 0
        if self.item.size is not None and offset > self.item.size:
            self.partial.unlink()
            offset = 0
        # identity: byte counts must be those of the file itself, never of a compressed transfer
        headers = {"Accept-Encoding": "identity", **({"Range": f"bytes={offset}-"} if offset else {})}
        try:
            with requests.get(url, headers=headers, stream=True, timeout=TIMEOUT) as response:
                total = self._receive(url, response, offset)
        except (requests.RequestException, TimeoutError, ConnectionError, HTTPException) as exc:
            raise self._interrupted(url, exc) from None
        received = self.partial.stat().st_size if self.partial.exists() else 0
        if total is not None and received < total:
            raise TransferInterrupted(
                f"{name}: the server stopped sending after {_human(received)} of {_human(total)}. The partial "
                f"download is kept as {self.partial} and the next run continues from there: run the same command again."
            )
        os.replace(self.partial, output_file)

    def _interrupted(self, url: str, exc: Exception) -> TransferInterrupted:
        """The message for a failed request: a timeout or a dropped connection, and what was kept."""
        import requests

        name = self.item.filename
        kept = self.partial.stat().st_size if self.partial.exists() else 0
        what = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, (requests.ConnectTimeout,)):
            cause = (f"could not connect to {url} within {TIMEOUT[0]} s ({what}). Check the network connection "
                     "and any proxy (HTTPS_PROXY / HTTP_PROXY / NO_PROXY), then run the same command again")
        elif isinstance(exc, (requests.Timeout, TimeoutError)) or "timed out" in str(exc).lower():
            cause = (f"the server at {url} sent nothing for {TIMEOUT[1]} s ({what}). The network or the server "
                     "is too slow or stalled: check the connection and any proxy (HTTPS_PROXY / NO_PROXY), then run "
                     "the same command again (later, if the server is busy)")
        else:
            cause = (f"the connection to {url} failed ({what}). Check the network connection and any proxy "
                     "(HTTPS_PROXY / NO_PROXY), then run the same command again")
        if not kept:
            return TransferInterrupted(f"{name}: {cause}; nothing was kept.")
        return TransferInterrupted(
            f"{name}: {cause}. The partial download is kept as {self.partial} ({_human(kept)} received) and the "
            "next run continues from there."
        )

    def _receive(self, url: str, response, offset: int) -> int | None:
        """Append the response's body to the partial file; the file's expected total size."""
        name, status = self.item.filename, response.status_code
        if status == 416 and offset:
            if offset == self.item.size:
                return offset  # every byte had arrived before an interruption
            self.partial.unlink(missing_ok=True)
            raise TransferInterrupted(
                f"{name}: the server refused to continue the partial download, which was discarded; "
                "the next attempt starts over."
            )
        if 400 <= status < 500 and status not in (408, 429):
            what = "not found" if status == 404 else response.reason or "refused"
            raise DownloadError(
                f"{name}: {url} answered {status} ({what}). The publisher may have moved or restricted the file; "
                "check the corpus's page (see `serbench corpus list`) and report it to the plugin's authors. "
                "Nothing was kept."
            )
        response.raise_for_status()  # 5xx, 408, 429: a RequestException, retried
        if offset and status != 206:
            offset = 0  # the server ignored the range: start over
        if offset:
            start = _content_range_start(response.headers.get("Content-Range"))
            if start is not None and start != offset:
                self.partial.unlink(missing_ok=True)
                raise TransferInterrupted(
                    f"{name}: asked to continue after byte {offset}, the server sent bytes from {start}; the partial "
                    "download was discarded and the next attempt starts over."
                )
            total = _content_range_total(response.headers.get("Content-Range"))
        else:
            length = response.headers.get("Content-Length", "")
            total = int(length) if length.isdigit() else None
        if total is not None and self.item.size is not None and total != self.item.size:
            self.partial.unlink(missing_ok=True)
            raise DownloadError(
                f"{name}: the server offers {total} bytes but the plugin declares {self.item.size}; the "
                "publisher may have changed the file. Nothing was kept; report it to the plugin's authors."
            )
        expected = total if total is not None else self.item.size
        if offset:
            self.progress.note(f"{name}: resuming after {_human(offset)} already downloaded")
        self.progress.start(name, expected, completed=offset)
        received = offset
        with open(self.partial, "ab" if offset else "wb") as handle:
            for chunk in response.iter_content(chunk_size=CHUNK):
                received += len(chunk)
                if expected is not None and received > expected:
                    handle.close()
                    self.partial.unlink(missing_ok=True)
                    raise DownloadError(self._too_long(url, expected, total))
                handle.write(chunk)
                self.progress.advance(len(chunk))
        return expected

    def _too_long(self, url: str, expected: int, announced: int | None) -> str:
        """The message for a server that sends more than the file's size."""
        said = (f"the {_human(expected)} it announced (Content-Length)" if announced is not None
                else f"the {_human(expected)} the plugin declares")
        return (
            f"{self.item.filename}: {url} sent more than {said}, so it was stopped there and the download was "
            "discarded (the server reports a wrong length, or the publisher changed the file). Nothing was kept. "
            "Run the same command again later; if it happens again, report it to the plugin's authors."
        )


def _fetch(item: RemoteFile, work: Path, progress: Progress, retries: int) -> tuple[Path, bool]:
    """The verified file (downloading or resuming it when needed) and whether it was transferred now.

    An interrupted transfer is resumed up to ``retries`` times (1, 2, ... seconds apart) before the
    error reaches the user; the partial file stays for a later run either way.
    """
    import pooch

    pooch.get_logger().setLevel("WARNING")
    downloader = ResumableDownloader(item, work / (item.filename + PARTIAL_SUFFIX), progress)
    for attempt in range(retries + 1):
        try:
            path = pooch.retrieve(item.url, known_hash=item.hash, fname=item.filename, path=work, downloader=downloader)
        except TransferInterrupted:
            if attempt == retries:
                raise
            partial = work / (item.filename + PARTIAL_SUFFIX)
            what = ("transfer interrupted; resuming" if partial.is_file() and partial.stat().st_size > 0
                    else "no connection (nothing received); trying again")  # e.g. a name that does not resolve
            progress.note(f"{item.filename}: {what} (attempt {attempt + 2} of {retries + 1})")
            time.sleep(min(attempt + 1, 10))
        except ValueError as exc:  # pooch: the hash of the downloaded file does not match
            raise DownloadError(
                f"{item.filename}: hash mismatch. {exc} Run the command again to download it afresh; if the "
                "mismatch persists the publisher changed the file: report it to the plugin's authors."
            ) from None
        else:
            return Path(path), downloader.calls > 0
    raise AssertionError("unreachable")


def _unsafe_zip_member(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member is unsafe to unpack (an absolute path, ``..``, a link, a device), or ``None``."""
    import stat

    name = info.filename
    kind = stat.S_IFMT(info.external_attr >> 16)  # 0: no Unix file type recorded (a plain file)
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        return "has an absolute path"
    if ".." in re.split(r"[/\\]", name):
        return "would be written outside the corpus folder ('..')"
    if kind == stat.S_IFLNK:
        return "is a symbolic link"
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "is not a regular file (a device or pipe)"
    return None


def _refuse_unsafe(archive: Path, item: RemoteFile, member: str, why: str) -> UnsafeArchive:
    archive.unlink(missing_ok=True)
    return UnsafeArchive(
        f"{item.filename}: the archive is unsafe to unpack: member {member!r} {why}. Nothing was unpacked and "
        "the archive was deleted. Downloading it again will not help (its hash matched: it is the file the "
        "plugin declares); report it to the plugin's authors."
    )


def _extract(archive: Path, item: RemoteFile, staging: Path) -> None:
    """Unpack ``archive`` into ``staging``; :class:`UnsafeArchive` before writing anything unsafe."""
    if item.unpack == "zip":
        with zipfile.ZipFile(archive) as bundle:
            for info in bundle.infolist():
                why = _unsafe_zip_member(info)
                if why is not None:
                    raise _refuse_unsafe(archive, item, info.filename, why)
            bad = bundle.testzip()
            if bad is not None:
                raise zipfile.BadZipFile(f"member {bad} fails its CRC check")
            bundle.extractall(staging)
        return
    with tarfile.open(archive) as bundle:
        for member in bundle.getmembers():
            if member.name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", member.name):
                raise _refuse_unsafe(archive, item, member.name, "has an absolute path")
            try:
                tarfile.data_filter(member, str(staging))
            except tarfile.FilterError as exc:
                reason = {tarfile.AbsolutePathError: "has an absolute path",
                          tarfile.OutsideDestinationError: "would be written outside the corpus folder",
                          tarfile.SpecialFileError: "is not a regular file (a device or pipe)",
                          tarfile.AbsoluteLinkError: "is a link to an absolute path",
                          tarfile.LinkOutsideDestinationError: "is a link pointing outside the corpus folder"}
                raise _refuse_unsafe(archive, item, member.name, reason.get(type(exc), str(exc))) from None
            if member.issym() or member.islnk():
                raise _refuse_unsafe(archive, item, member.name, "is a link")
        bundle.extractall(staging, filter="data")


def _unpack(archive: Path, item: RemoteFile, destination: Path, work: Path) -> None:
    """Unpack (or place) ``archive`` into ``destination/item.into``, whole or not at all; never over a
    file serbench did not write (:class:`UserFileInTheWay`) and never an unsafe archive (:class:`UnsafeArchive`)."""
    target = destination / item.into if item.into else destination
    staging = work / f"unpacking-{item.filename}"
    shutil.rmtree(staging, ignore_errors=True)
    if item.unpack == "none":
        staging.mkdir(parents=True)
        shutil.copyfile(archive, staging / item.filename)
    else:
        try:
            _extract(archive, item, staging)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as exc:
            shutil.rmtree(staging, ignore_errors=True)
            archive.unlink(missing_ok=True)
            raise DownloadError(
                f"{item.filename}: the archive is damaged and cannot be unpacked ({exc}); it was deleted. Run the "
                "command again to download it afresh; if it fails again, report it to the plugin's authors."
            ) from None
        except UnsafeArchive:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    written = read_written(destination)
    clash = _first_clash(staging, target, destination, written)
    if clash is not None:
        shutil.rmtree(staging, ignore_errors=True)
        raise UserFileInTheWay(
            f"{clash}: this file was not written by serbench, and the corpus's {item.filename} would replace it; "
            "it was kept and nothing was unpacked. Move it elsewhere (or download into another folder with "
            f"--to DIR), then run the same command again (the verified downloads are kept in {work})."
        )
    target.mkdir(parents=True, exist_ok=True)
    placed = _merge(staging, target)
    _record_written(destination, written | {p.relative_to(destination).as_posix() for p in placed})
    shutil.rmtree(staging, ignore_errors=True)


def read_written(directory: Path) -> set[str]:
    """The files (relative paths) serbench wrote into a corpus directory (:data:`WRITTEN_LIST`)."""
    try:
        text = (directory / WRITTEN_LIST).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return set()
    except (OSError, UnicodeDecodeError):
        return set()  # unreadable: nothing is taken as serbench's, so nothing is replaced
    return {line for line in text.splitlines() if line and not line.startswith("#")}


def _record_written(directory: Path, written: set[str]) -> None:
    from ser_core.outputs import write_text

    header = "# files serbench corpus download wrote here; only these may be replaced by a later download\n"
    write_text(directory / WRITTEN_LIST, header + "".join(f"{p}\n" for p in sorted(written)))


def _first_clash(source: Path, target: Path, root: Path, written: set[str]) -> Path | None:
    """The first path under ``target`` that merging ``source`` would replace and serbench did not write."""
    for entry in sorted(source.iterdir()):
        place = target / entry.name
        if not (place.exists() or place.is_symlink()):
            continue
        if entry.is_dir() and not entry.is_symlink() and place.is_dir() and not place.is_symlink():
            found = _first_clash(entry, place, root, written)
            if found is not None:
                return found
            continue
        if place.is_dir() and not place.is_symlink():
            mine = all(p.relative_to(root).as_posix() in written for p in place.rglob("*") if not p.is_dir())
        else:
            mine = place.relative_to(root).as_posix() in written
        if not mine:
            return place
    return None


def _merge(source: Path, target: Path) -> list[Path]:
    """Move everything under ``source`` into ``target``: folders merge (several archives may fill one
    folder), files replace files of the same name (a re-run unpacks the same archive again; only
    files serbench wrote, see :func:`_first_clash`). The files placed, under ``target``."""
    placed: list[Path] = []
    for entry in sorted(source.iterdir()):
        place = target / entry.name
        if entry.is_dir() and not entry.is_symlink() and place.is_dir() and not place.is_symlink():
            placed.extend(_merge(entry, place))
            continue
        if place.is_dir() and not place.is_symlink():
            shutil.rmtree(place)
        elif place.exists() or place.is_symlink():
            place.unlink()
        os.replace(entry, place)
        placed.extend([place] if not place.is_dir() else [p for p in place.rglob("*") if not p.is_dir()])
    return placed


def check_destination(directory: Path, source: DownloadSource) -> None:
    """Refuse, before downloading, a destination that cannot be written or lacks the space needed."""
    check_writable_dir(directory, "the download destination", "choose another one with --to DIR or set SERBENCH_DATA_DIR")
    check_writable_dir(
        config.data_dir(), "the serbench data directory", "set SERBENCH_DATA_DIR to a writable directory"
    )
    total = source.size
    if total is not None:
        work = directory / WORK_FOLDER
        have = sum(p.stat().st_size for p in work.iterdir() if p.is_file()) if work.is_dir() else 0
        unpacked = sum(f.size or 0 for f in source.files if f.unpack != "none")
        needed = max(total - have, 0) + unpacked
        free = shutil.disk_usage(directory).free
        if free < needed:
            raise OutputError(
                f"the download destination {directory} has {_human(free)} free, but {_human(needed)} are needed "
                "(the files and their unpacked content). Free some space or choose another place with --to DIR."
            )


def ready(corpus: Registered, root: Path, on_progress: Callable[[int], None] | None = None) -> tuple[list[str], int]:
    """The strict content check of ``corpus`` at ``root`` (what ``corpus info --strict`` checks): the
    differences from the expected content (empty when it passes) and the number of clips found.
    A directory that cannot be read as the corpus at all is one difference, with the reason."""
    from ser_core.corpus import inspect

    try:
        report = inspect(corpus, root, on_progress=on_progress)
    except CorpusError as exc:
        return [str(exc)], 0
    return report.problems + report.unusable, len(report.manifest.clips)


def download_corpus(
    corpus: Registered,
    directory: Path | None = None,
    *,
    accept_licence: bool = False,
    keep_archives: bool = False,
    retries: int = 3,
    progress: Progress | None = None,
    check_progress: Callable[[int], None] | None = None,
) -> DownloadReport:
    """Download, verify, unpack, check and record ``corpus`` (see the module docstring).

    :raises ManualOnly: the corpus declares manual steps instead of files.
    :raises NeedsLicence: the licence must be accepted and ``accept_licence`` is false.
    :raises DownloadError: a transfer, hash, archive or content check failed (the message says what
        was kept and what to do).
    :raises OutputError: the destination or the data directory cannot be written, or lacks space.
    """
    progress = progress or _Silent()
    name, spec = corpus.name, corpus.spec
    source = spec.source
    if source is None and not spec.needs_path:
        raise CorpusError(f"corpus {name!r} is generated by its plugin: there is nothing to download.")
    if source is None:
        raise CorpusError(
            f"corpus {name!r} declares no data source (plugin {corpus.plugin.distribution}); get it as its "
            f"owners describe ({spec.url or 'see the plugin documentation'}) and pass --corpus-path {name}=DIR."
        )
    problems = source_problems(source)
    if problems:
        raise CorpusError(
            f"corpus {name!r}: the plugin {corpus.plugin.distribution} declares an invalid source: "
            + "; ".join(problems) + ". Report it to the plugin's authors (`serbench validate-plugin` shows it)."
        )
    if isinstance(source, ManualSource):
        raise ManualOnly(name, source)
    if source.accept and not accept_licence:
        raise NeedsLicence(source.accept)
    directory = Path(directory if directory is not None else default_directory(name)).expanduser().absolute()
    root = directory / source.root if source.root else directory
    report = DownloadReport(name, directory, root)

    recorded = locations.recorded_path(name)
    work = directory / WORK_FOLDER
    if recorded is not None and recorded == root.resolve() and root.is_dir():
        problems, clips = ready(corpus, root, check_progress)
        if not problems:
            report.already_there = True
            report.clips = clips
            report.recorded_in = locations.record(name, root, clips=report.clips, plugin=_plugin(corpus))
            return report
        progress.note(f"{name} at {root} differs from the expected content; downloading it again")

    check_destination(directory, source)
    work.mkdir(parents=True, exist_ok=True)
    archives: list[tuple[RemoteFile, Path]] = []
    for item in source.files:
        path, fetched = _fetch(item, work, progress, retries)
        (report.fetched if fetched else report.reused).append(item.filename)
        archives.append((item, path))
    for item, path in archives:
        progress.note(f"unpacking {item.filename}")
        try:
            _unpack(path, item, directory, work)
        except OSError as exc:
            space = exc.errno in (errno.ENOSPC, errno.EDQUOT)
            raise DownloadError(
                f"{item.filename}: unpacking into {directory} failed ({exc.strerror or exc}). "
                + ("Free some space, then " if space else "Fix the cause, then ")
                + "run the same command again (downloaded files are kept)."
            ) from None

    problems, clips = ready(corpus, root, check_progress)
    if problems:
        shown = "; ".join(problems[:5]) + (f"; ... and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise DownloadError(
            f"corpus {name!r}: downloaded and unpacked into {root}, but the content differs from what the plugin "
            f"expects ({shown}). The location was not recorded and the verified downloads are kept in {work}; "
            f"see `serbench corpus info {name} --path {root}` and report it to the plugin's authors."
        )
    if not keep_archives:
        shutil.rmtree(work, ignore_errors=True)
    report.clips = clips
    report.recorded_in = locations.record(name, root, clips=report.clips, plugin=_plugin(corpus))
    return report


def _plugin(corpus: Registered) -> str:
    return f"{corpus.plugin.distribution} {corpus.plugin.version}"

"""Writing files safely: every file serbench writes appears whole, or not at all.

:func:`atomic_write` is the one way the core writes an output file (leaderboard exports, feature
cache tables, partial extraction progress): the data goes to a temporary file in the target's
directory, which is flushed, synced and renamed over the target only when complete. A full disk, a
killed process or Ctrl-C therefore leaves the previous file as it was. Targets that are not regular
files (``/dev/stdout``, a FIFO, ``/dev/full``) cannot be replaced by a rename and are written
directly. Every ``OSError`` becomes an :class:`~ser_core.errors.OutputError` that names the path
and says what to do (:func:`describe_os_error`).

What goes to stdout never fails on the terminal's encoding either: :func:`encodable` writes each
character an encoding lacks as its ASCII equivalent (:data:`ASCII_MARKS`), and :func:`write_stdout`
gives an export on stdout the same UTF-8 bytes a file gets when stdout is redirected.
"""

from __future__ import annotations

import codecs
import errno
import os
import stat
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from ser_core.errors import OutputError


def describe_os_error(path: str | Path, exc: OSError, action: str = "write") -> str:
    """One sentence for an ``OSError`` met while trying to ``action`` ``path``, with what to do."""
    path = Path(path)
    code = exc.errno
    if isinstance(exc, IsADirectoryError):
        return f"cannot {action} {path}: it is a directory. Give a file name inside it instead."
    if isinstance(exc, (NotADirectoryError, FileExistsError)):
        return f"cannot {action} {path}: a parent of it is a file, not a directory. Choose another location."
    if isinstance(exc, PermissionError) or code == errno.EROFS:
        return (
            f"cannot {action} {path}: permission denied (or a read-only file system). Choose a location "
            "you can write to, or fix the permissions."
        )
    if code in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"cannot {action} {path}: no space left on the device. Free some space or choose another "
            "location; any previous version of the file is unchanged."
        )
    return f"cannot {action} {path}: {exc.strerror or exc}."


#: Where the system's stream and device names live: ``/dev/stdout`` is a link to ``/proc/self/fd/1``,
#: which is a regular file when stdout is redirected to one; renaming over it would replace the link.
_STREAM_DIRS = ("/dev/", "/proc/")


def _is_special(path: Path) -> bool:
    """True for an existing target that is not a regular file (a device, a FIFO, a stream such as
    ``/dev/stdout``, even one redirected to a file): written directly, never renamed over."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    if any(str(p).startswith(_STREAM_DIRS) for p in (Path(os.path.abspath(path)), Path(os.path.realpath(path)))):
        return True
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def is_stream(path: str | Path) -> bool:
    """True when ``path`` is a stream or device (``/dev/stdout``, a FIFO) that an export is written into,
    not a file it replaces; a confirmation then belongs on stderr, not in the stream."""
    return _is_special(Path(path))


def _through_links(path: Path) -> Path:
    """The file a symbolic link ``path`` points to (a rename over the link would replace the link)."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_write(path: str | Path, *, text: bool = False) -> Iterator[IO]:
    """Yield a handle whose content replaces ``path`` only when the ``with`` block completes.

    The parent directory is created when missing. On any error (including ``KeyboardInterrupt``)
    the temporary file is removed and ``path`` is left as it was.

    :param text: yield a UTF-8 text handle instead of a binary one.
    :raises OutputError: the file cannot be written (a directory, permissions, disk full), naming it.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(describe_os_error(path, IsADirectoryError(errno.EISDIR, "is a directory")))
    if _is_special(path):
        try:
            # appended: /dev/stdout redirected to a file is opened at its start, over what was printed before
            with open(path, "a" if text else "ab", **({"encoding": "utf-8"} if text else {})) as handle:
                yield handle
        except OSError as exc:
            raise OutputError(describe_os_error(path, exc)) from exc
        return
    path = _through_links(path)
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w" if text else "wb", **({"encoding": "utf-8"} if text else {})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _file_mode())  # mkstemp creates 0600; outputs should read like other files
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise OutputError(describe_os_error(path, exc)) from exc
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically; see :func:`atomic_write`."""
    with atomic_write(path, text=True) as handle:
        handle.write(text)


def write_bytes(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically; see :func:`atomic_write`."""
    with atomic_write(path) as handle:
        handle.write(data)


#: Characters serbench prints, with what a terminal whose encoding lacks them shows instead. Every
#: other character it cannot show becomes ``?``.
ASCII_MARKS = {
    "±": "+/-", "▲": "^", "△": "~", "▼": "v", "†": "*", "‡": "**", "…": "...", "α": "alpha", "≥": ">=",
    "≤": "<=", "²": "^2", "×": "x", "→": "->", "—": "--", "–": "-", "’": "'", "“": '"', "”": '"', "·": ".",
}
#: The codec error handler that writes :data:`ASCII_MARKS` (``text.encode(enc, MARKS_HANDLER)``).
MARKS_HANDLER = "serbench-ascii-marks"


def _ascii_marks(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return "".join(ASCII_MARKS.get(ch, "?") for ch in error.object[error.start:error.end]), error.end


codecs.register_error(MARKS_HANDLER, _ascii_marks)


def encodable(text: str, encoding: str | None) -> str:
    """``text`` with every character ``encoding`` cannot write replaced (:data:`ASCII_MARKS`, else ``?``)."""
    encoding = encoding or "utf-8"
    try:
        text.encode(encoding)
        return text
    except UnicodeEncodeError:
        return text.encode(encoding, MARKS_HANDLER).decode(encoding)
    except LookupError:  # an encoding Python does not know: leave it to the stream
        return text


def write_stdout(text: str) -> None:
    """Write an export (Markdown, CSV, JSON, HTML) to stdout without ever failing on the encoding.

    Where stdout's encoding can hold ``text`` it is written as it is. Otherwise, redirected to a file or
    a pipe, it gets the UTF-8 bytes ``--output FILE`` would hold (every export is UTF-8, and says so
    where its format can); on a terminal, what it cannot show is written as ASCII marks (``+/-`` for
    ``±``; :func:`encodable`).
    """
    stream = sys.stdout
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        buffer = getattr(stream, "buffer", None)
        if buffer is not None and not _isatty(stream):
            stream.flush()
            buffer.write(text.encode("utf-8", "replace"))
            buffer.flush()
            return
        text = encodable(text, encoding)
    stream.write(text)
    stream.flush()


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def check_output(path: str | Path) -> None:
    """Refuse an output path that cannot be written, before the work that produces the file.

    :raises OutputError: ``path`` is a directory, or its directory cannot be written, naming it.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(describe_os_error(path, IsADirectoryError(errno.EISDIR, "is a directory")))
    if _is_special(path):
        return
    path = _through_links(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(describe_os_error(path, exc)) from None


def refuse_to_replace(path: str | Path, force: bool, option: str = "--output") -> bool:
    """Refuse to replace an existing file unless ``force``: serbench cannot tell a previous export of
    its own from a file of the user's that happens to have the name, so it replaces neither unasked.

    Targets that are not regular files (``/dev/stdout``, a FIFO) are written, not replaced, and pass.

    :returns: whether ``path`` is an existing file that will be replaced (so the caller can say so).
    :raises OutputError: ``path`` is an existing regular file and ``force`` is false, naming it.
    """
    path = Path(path)
    if not path.is_file() or _is_special(path):
        return False
    if not force:
        raise OutputError(
            f"{option} {path}: the file already exists, and serbench does not replace a file it was not asked "
            "to (it may not be one serbench wrote). Pass --force to replace it, or choose another name."
        )
    return True


def check_writable_dir(directory: str | Path, what: str, remedy: str) -> None:
    """Make sure files can be created in ``directory`` (created when missing), by creating one.

    Probing beats ``os.access``: it also catches read-only mounts and works for root.

    :param what: what the directory is for, e.g. "the feature cache".
    :param remedy: what the user can do, e.g. "set SERBENCH_CACHE_DIR to a writable directory".
    :raises OutputError: naming the directory, the reason and ``remedy``.
    """
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".serbench-probe-")
        os.close(fd)
        os.unlink(probe)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (directory, *directory.parents) if p.exists() and not p.is_dir()), directory)
        where = "is a file" if blocker == directory else f"cannot be created: {blocker} is a file"
        raise OutputError(f"{what} {directory} {where}, not a directory; {remedy}.") from None
    except OSError as exc:
        reason = "permission denied or read-only" if isinstance(exc, PermissionError) or exc.errno == errno.EROFS else (
            "no space left on the device" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else exc.strerror or str(exc)
        )
        raise OutputError(f"{what} {directory} cannot be written ({reason}); {remedy}.") from exc

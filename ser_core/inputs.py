"""Reading a file the user names (a benchmarks file, a ``--reference`` CSV, a results bundle, the record of
corpus locations): a regular file of bounded size, read whole.

``--config /dev/zero`` read until the memory ran out (an internal error), ``--reference /dev/zero`` for
ever, and a FIFO with no writer (``mkfifo f; serbench suites -c f``) blocked the command before its first
line. :func:`read_text` refuses what is not a regular file before opening it (opening a FIFO waits for a
writer) and reads at most ``limit`` bytes, so neither can happen. Its errors are ``OSError`` s, so each
caller's message for an unreadable file names the file and the reason.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

#: The most a text input (benchmarks file, reference CSV, locations record) may hold; far beyond any real one.
TEXT_LIMIT = 16 * 2**20
#: The most a results bundle may hold (every prediction of the study's grid is a few tens of MB).
BUNDLE_LIMIT = 2 * 2**30


class UnreadableInput(OSError):
    """A named input that is not a regular file, or larger than its bound; ``str()`` is the reason."""

    def __init__(self, reason: str):
        super().__init__(errno.EINVAL, reason)

    def __str__(self) -> str:
        return self.strerror


def _size(limit: int) -> str:
    return f"{limit / 2**30:g} GiB" if limit >= 2**30 else f"{limit / 2**20:g} MiB"


def check_regular(path: str | Path) -> None:
    """Raise :class:`UnreadableInput` when ``path`` exists and is not a regular file (a FIFO, a device, a
    socket): such a file can block on opening or never end. Missing files and directories are left to
    the caller's own message."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else \
            "a socket" if stat.S_ISSOCK(mode) else "not a regular file"
        raise UnreadableInput(f"it is {kind}, not a regular file, and reading it could block or never end; pass the "
                              "file itself")


def read_text(path: str | Path, *, limit: int | None = None, encoding: str = "utf-8") -> str:
    """The text of the regular file ``path``, at most ``limit`` bytes (default :data:`TEXT_LIMIT`).

    :raises UnreadableInput: not a regular file, or larger than ``limit``.
    :raises OSError: it cannot be opened (missing, a directory, permissions).
    :raises UnicodeDecodeError: it is not text in ``encoding``.
    """
    limit = TEXT_LIMIT if limit is None else limit
    check_regular(path)
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise UnreadableInput(f"it holds more than {_size(limit)}, far more than a file of this kind does; check "
                              "that it is the file meant")
    return data.decode(encoding)

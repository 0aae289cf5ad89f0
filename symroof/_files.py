"""Reading a user's file safely: a regular file only (a FIFO, a device or a socket is refused without
blocking), at most a size limit, UTF-8 text; every failure one ``ValueError`` line naming the file."""

from __future__ import annotations

import os
import stat

__all__ = ["read_text"]

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def kind(mode: int) -> str:
    """What a file mode is, in words (``a FIFO``)."""
    return next((what for test, what in _KINDS if test(mode)), "not a regular file")


def os_error(err: BaseException) -> str:
    return err.strerror if isinstance(err, OSError) and err.strerror else " ".join(str(err).split())


def read_text(path: str | os.PathLike[str], what: str, max_bytes: int) -> str:
    """The text of ``path`` (``what`` names it in errors: ``"config file"``), at most ``max_bytes``.

    The mode is checked before the file is opened, and again on the open descriptor (opened with
    ``O_NONBLOCK``, so a path that became a FIFO since cannot make the read wait).
    """
    shown = repr(os.fspath(path))
    try:
        info = os.stat(path)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read {what} {shown}: {os_error(err)}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{what} {shown} is {kind(info.st_mode)}, not a regular file")
    if info.st_size > max_bytes:
        raise ValueError(f"{what} {shown} has {info.st_size} bytes; at most {max_bytes} are read")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ValueError(f"{what} {shown} is {kind(info.st_mode)}, not a regular file")
            chunks, size = [], 0
            while size <= max_bytes:
                chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        finally:
            os.close(fd)
    except OSError as err:
        raise ValueError(f"cannot read {what} {shown}: {os_error(err)}") from None
    raw = b"".join(chunks)
    if len(raw) > max_bytes:
        raise ValueError(f"{what} {shown} is larger than {max_bytes} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"cannot read {what} {shown}: not UTF-8 text ({err.reason} at byte {err.start})") from None

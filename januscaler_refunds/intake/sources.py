"""Where raw messages come from: a single file, an mbox, a Maildir, or a folder of .eml files.

Pure Python, stdlib only. The contract is "never lose a message": a file that cannot be read is
still yielded, with ``raw=b""`` and ``error`` set, so the import can show it as a triage item instead
of silently skipping it.
"""

from __future__ import annotations

import mailbox
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Suffixes picked up when walking a plain directory. Other files (README, LICENSE, .DS_Store) are
# not mail and are skipped on purpose.
MESSAGE_SUFFIXES = frozenset({".eml"})
MBOX_SUFFIXES = frozenset({".mbox", ".mbx"})
MAX_DIRECTORY_DEPTH = 32


@dataclass(frozen=True)
class SourceMessage:
    """One raw message and where it was found (``"/path/file.eml"``, ``"/path/box.mbox#3"``)."""

    location: str
    raw: bytes
    error: str | None = None


def iter_messages(path: str | os.PathLike[str]) -> Iterator[SourceMessage]:
    """Yield every message under ``path``, in a stable order.

    - a ``.eml`` file: one message (a leading mbox ``From `` line is left for the parser);
    - any other file starting with ``From ``: an mbox, one message per entry, located as
      ``file.mbox#N`` with N counted from 1;
    - any other file: one message;
    - a directory with ``cur/`` and ``new/``: a Maildir; messages in ``new/`` then ``cur/``, each
      located by its file path (``tmp/`` holds deliveries in progress and is not read);
    - any other directory: walked recursively in sorted order, taking ``.eml`` files, mbox files
      (``.mbox``/``.mbx``) and nested Maildirs; hidden files and other files are skipped.

    Raises FileNotFoundError when ``path`` itself does not exist (a configuration mistake should
    fail loudly); problems with anything found under it become SourceMessages with ``error``.
    """
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"no mail source at {root}")
    if root.is_dir():
        if _is_maildir(root):
            yield from _iter_maildir(root)
        else:
            yield from _iter_directory(root)
    else:
        yield from _iter_file(root, guess_mbox=root.suffix.lower() not in MESSAGE_SUFFIXES)


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _is_maildir(directory: Path) -> bool:
    return (directory / "cur").is_dir() and (directory / "new").is_dir()


def _iter_file(file: Path, *, guess_mbox: bool) -> Iterator[SourceMessage]:
    location = str(file)
    if guess_mbox:
        try:
            with file.open("rb") as handle:
                first = handle.read(5)
        except OSError as exc:
            yield SourceMessage(location=location, raw=b"", error=_error(exc))
            return
        if first == b"From ":
            yield from _iter_mbox(file)
            return
        if not first and file.suffix.lower() in MBOX_SUFFIXES:
            return  # an empty mailbox holds no message
    try:
        raw = file.read_bytes()
    except OSError as exc:
        yield SourceMessage(location=location, raw=b"", error=_error(exc))
        return
    yield SourceMessage(location=location, raw=raw)


def _iter_mbox(file: Path) -> Iterator[SourceMessage]:
    try:
        # create=False: a source is read, never created; mailbox.mbox falls back to read-only
        # opening when the file is not writable, and we never lock or write.
        box = mailbox.mbox(file, factory=None, create=False)
        keys = list(box.iterkeys())  # builds the table of contents: one pass over the file
    except Exception as exc:
        yield SourceMessage(location=str(file), raw=b"", error=_error(exc))
        return
    try:
        for number, key in enumerate(keys, start=1):
            location = f"{file}#{number}"
            try:
                raw = box.get_bytes(key)
            except Exception as exc:
                yield SourceMessage(location=location, raw=b"", error=_error(exc))
                continue
            yield SourceMessage(location=location, raw=raw)
    finally:
        box.close()


def _iter_maildir(directory: Path) -> Iterator[SourceMessage]:
    # The Maildir layout is simple enough to read directly, and reading the files ourselves gives
    # each message its file path as a stable location (mailbox.Maildir keeps its key -> path table
    # private) and lets one unreadable file become one error item rather than end the iteration.
    for sub in ("new", "cur"):
        folder = directory / sub
        try:
            entries = sorted(folder.iterdir(), key=lambda entry: entry.name)
        except OSError as exc:
            yield SourceMessage(location=str(folder), raw=b"", error=_error(exc))
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.is_dir():
                continue
            yield from _iter_file(entry, guess_mbox=False)


def _iter_directory(directory: Path, depth: int = 0) -> Iterator[SourceMessage]:
    try:
        entries = sorted(directory.iterdir(), key=lambda entry: entry.name)
    except OSError as exc:
        yield SourceMessage(location=str(directory), raw=b"", error=_error(exc))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if entry.is_symlink() or depth >= MAX_DIRECTORY_DEPTH:  # symlinked folders can loop
                continue
            if _is_maildir(entry):
                yield from _iter_maildir(entry)
            else:
                yield from _iter_directory(entry, depth + 1)
            continue
        suffix = entry.suffix.lower()
        if suffix in MESSAGE_SUFFIXES:
            yield from _iter_file(entry, guess_mbox=False)
        elif suffix in MBOX_SUFFIXES:
            yield from _iter_file(entry, guess_mbox=True)

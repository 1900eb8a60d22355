"""iter_messages over single files, mbox files, Maildirs and folders; nothing is ever dropped."""

from __future__ import annotations

import mailbox
import os
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `pytest -p no:django` does not put the project on sys.path
    sys.path.insert(0, str(REPO))

from januscaler_refunds.intake.parsing import parse_message  # noqa: E402
from januscaler_refunds.intake.sources import SourceMessage, iter_messages  # noqa: E402

CORPUS = REPO / "tests" / "corpus" / "mail"  # shipped with the project; see its README


@pytest.fixture(autouse=True)
def _media_root() -> None:
    """Overrides the suite's settings-based fixture: sources need no Django (runs with -p no:django)."""


@pytest.fixture(autouse=True, scope="session")
def _celery_eager() -> None:
    """Overrides the suite's Celery fixture for the same reason."""


def message(number: int, body: str = "Please refund.") -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = f"customer{number}@example.com"
    mail["To"] = "billing@januscaler.com"
    mail["Subject"] = f"Refund Request: INV-2025-{number:06d}"
    mail["Message-ID"] = f"<m{number}@example.com>"
    mail.set_content(body)
    return mail


def subjects(items: list[SourceMessage]) -> list[str]:
    return [parse_message(item.raw).subject for item in items]


def test_single_eml_file(tmp_path: Path) -> None:
    path = tmp_path / "one.eml"
    path.write_bytes(message(1).as_bytes())
    [item] = list(iter_messages(path))
    assert item == SourceMessage(location=str(path), raw=path.read_bytes(), error=None)


def test_eml_file_starting_with_an_mbox_line_stays_one_message(tmp_path: Path) -> None:
    path = tmp_path / "exported.eml"
    raw = b"From someone Mon Jan  1 00:00:00 2024\n" + message(1).as_bytes() + b"\n\nFrom here on\n"
    path.write_bytes(raw)
    [item] = list(iter_messages(str(path)))
    assert item.raw == raw
    assert parse_message(item.raw).subject == "Refund Request: INV-2025-000001"


def test_any_single_message_file(tmp_path: Path) -> None:
    path = tmp_path / "message.txt"
    path.write_bytes(message(5).as_bytes())
    [item] = list(iter_messages(path))
    assert item.location == str(path) and item.error is None


def test_mbox_file(tmp_path: Path) -> None:
    path = tmp_path / "archive.mbox"
    box = mailbox.mbox(path)
    for number in (1, 2, 3):
        # A body line starting with "From " must not split the message.
        box.add(message(number, body=f"From my side: refund {number}.\n"))
    box.close()

    items = list(iter_messages(path))
    assert [item.location for item in items] == [f"{path}#1", f"{path}#2", f"{path}#3"]
    assert subjects(items) == [f"Refund Request: INV-2025-00000{n}" for n in (1, 2, 3)]
    assert all(item.error is None for item in items)
    assert not items[0].raw.startswith(b"From ")  # the envelope line is not part of the message


def test_mbox_detected_by_content_without_suffix(tmp_path: Path) -> None:
    path = tmp_path / "Inbox"
    box = mailbox.mbox(path)
    box.add(message(1))
    box.add(message(2))
    box.close()
    assert [item.location for item in iter_messages(path)] == [f"{path}#1", f"{path}#2"]


def test_empty_mbox_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.mbox"
    path.write_bytes(b"")
    assert list(iter_messages(path)) == []


def test_maildir(tmp_path: Path) -> None:
    root = tmp_path / "Maildir"
    box = mailbox.Maildir(root, factory=None)
    keys = [box.add(message(number)) for number in (1, 2, 3)]
    seen = mailbox.MaildirMessage(message(4))
    seen.set_subdir("cur")
    seen.add_flag("S")
    box.add(seen)
    box.close()
    # A delivery still in progress sits in tmp/ and must not be read.
    (root / "tmp" / "in-flight").write_bytes(message(9).as_bytes())

    items = list(iter_messages(root))
    assert len(items) == 4
    assert all(item.error is None for item in items)
    assert all(Path(item.location).exists() for item in items)
    assert [Path(item.location).parent.name for item in items] == ["new", "new", "new", "cur"]
    assert {Path(item.location).name for item in items[:3]} == set(keys)
    assert sorted(subjects(items)) == [f"Refund Request: INV-2025-00000{n}" for n in (1, 2, 3, 4)]


def test_directory_is_walked_recursively_in_sorted_order(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "deeper").mkdir(parents=True)
    (tmp_path / "b" / "2.eml").write_bytes(message(2).as_bytes())
    (tmp_path / "a" / "deeper" / "1.EML").write_bytes(message(1).as_bytes())
    (tmp_path / "c.eml").write_bytes(message(3).as_bytes())
    (tmp_path / "README.md").write_text("not mail")
    (tmp_path / ".hidden.eml").write_bytes(message(8).as_bytes())
    box = mailbox.mbox(tmp_path / "d.mbox")
    box.add(message(4))
    box.close()
    maildir = mailbox.Maildir(tmp_path / "e-maildir", factory=None)
    maildir.add(message(5))
    maildir.close()

    items = list(iter_messages(tmp_path))
    assert [Path(item.location.split("#")[0]).name for item in items][:4] == [
        "1.EML",
        "2.eml",
        "c.eml",
        "d.mbox",
    ]
    assert items[3].location.endswith("d.mbox#1")
    assert Path(items[4].location).parent.name == "new"
    assert subjects(items) == [f"Refund Request: INV-2025-00000{n}" for n in (1, 2, 3, 4, 5)]


def test_unreadable_file_is_yielded_with_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.eml").write_bytes(message(1).as_bytes())
    (tmp_path / "b.eml").symlink_to(tmp_path / "gone.eml")  # dangling: reading fails
    (tmp_path / "c.eml").write_bytes(message(3).as_bytes())

    items = list(iter_messages(tmp_path))
    assert [Path(item.location).name for item in items] == ["a.eml", "b.eml", "c.eml"]
    broken = items[1]
    assert broken.raw == b""
    assert broken.error is not None and broken.error.startswith("FileNotFoundError")
    assert items[0].error is None and items[2].error is None
    # The empty raw still parses into something intake can show as a triage item.
    assert parse_message(broken.raw).content_hash


def test_permission_error_is_yielded_with_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "locked.eml"
    path.write_bytes(message(1).as_bytes())
    original = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "locked.eml":
            raise PermissionError(13, "Permission denied", str(self))
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    [item] = list(iter_messages(tmp_path))
    assert item.location == str(path)
    assert item.raw == b""
    assert item.error is not None and "PermissionError" in item.error


def test_missing_source_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(iter_messages(tmp_path / "nowhere"))


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared mail corpus not found at {CORPUS}")
def test_corpus_folder_yields_every_eml_file_once() -> None:
    expected = sorted(str(path) for path in CORPUS.rglob("*.eml") if not path.name.startswith("."))
    items = list(iter_messages(CORPUS))
    assert [item.location for item in items] == expected
    assert all(item.error is None and item.raw for item in items)
    assert os.path.basename(items[0].location) == "8bitmime.eml"

"""docker/dbtool.py's media commands, as they run in the web container, on real folders here,
and its check before a rollback, on the site's test database.

media-tar writes a tar of the media directory for `db.backup`; media-restore reads a backup
archive and puts its media files in place of the media directory's for `db.restore`;
unknown-migrations names the applied migrations an image's code does not know.
"""

from __future__ import annotations

import io
import os
import tarfile
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import dbtool
import entrypoint
import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings

from stack import archive

from .test_backup import MEDIA, archive_of, manifest, member, sqlite_file, tar_of

OLD_MEDIA = {"old.txt": b"gone after a restore", "photos/old.jpg": b"\xff\xd8 old"}


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below `folder`, by its path under it."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def plant(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    """The data volume, with the media directory at media/ in it."""
    volume = tmp_path / "data"
    volume.mkdir()
    monkeypatch.setattr(dbtool, "media_root", lambda: str(volume / "media"))
    return volume


def media_tar(monkeypatch) -> bytes:
    out = SimpleNamespace(buffer=io.BytesIO())
    monkeypatch.setattr(dbtool.sys, "stdout", out)
    dbtool.media_tar()
    return out.buffer.getvalue()


def media_restore(monkeypatch, archive_bytes: bytes) -> None:
    monkeypatch.setattr(dbtool.sys, "stdin", SimpleNamespace(buffer=io.BytesIO(archive_bytes)))
    dbtool.media_restore()


def refused(monkeypatch, archive_bytes: bytes) -> str:
    with pytest.raises(SystemExit) as caught:
        media_restore(monkeypatch, archive_bytes)
    return str(caught.value.code)


# ---- where the media are ----


def test_the_media_directory_is_django_s_media_root_or_else_the_one_on_the_data_volume():
    with override_settings(MEDIA_ROOT="/srv/uploads"):
        assert dbtool.media_root() == "/srv/uploads"
    with override_settings(MEDIA_ROOT=""):
        assert dbtool.media_root() == dbtool.MEDIA_DIR == "/data/media"


# ---- media-tar ----


def test_media_tar_writes_every_regular_file_by_its_path_under_the_media_directory(data, monkeypatch):
    plant(data / "media", MEDIA)
    with tarfile.open(fileobj=io.BytesIO(media_tar(monkeypatch))) as tar:
        assert tar.getnames() == ["a b.txt", "photos/2026/cat.jpg"]
        assert {info.name: tar.extractfile(info).read() for info in tar} == MEDIA


def test_media_tar_leaves_links_out_and_follows_none(data, monkeypatch, capsys):
    plant(data / "media", MEDIA)
    (data / "secret.txt").write_bytes(b"outside the media directory")
    os.symlink(data / "secret.txt", data / "media" / "to-a-file")
    os.symlink(data, data / "media" / "to-a-folder")
    os.mkfifo(data / "media" / "pipe")
    with tarfile.open(fileobj=io.BytesIO(media_tar(monkeypatch))) as tar:
        assert tar.getnames() == ["a b.txt", "photos/2026/cat.jpg"]
    said = capsys.readouterr().err
    for name in ("to-a-file", "to-a-folder", "pipe"):
        assert f"left out {data / 'media' / name}: not a regular file" in said


def test_media_tar_without_a_media_directory_writes_an_empty_tar(data, monkeypatch):
    with tarfile.open(fileobj=io.BytesIO(media_tar(monkeypatch))) as tar:
        assert tar.getnames() == []


# ---- media-restore ----


def test_media_restore_puts_the_archive_s_files_in_place_of_the_old_ones(data, tmp_path, monkeypatch):
    plant(data / "media", OLD_MEDIA)
    (data / "media").chmod(0o2775)
    media_restore(monkeypatch, archive_of("sqlite", sqlite_file(tmp_path / "live.sqlite3"), MEDIA))
    assert tree(data / "media") == MEDIA
    assert (data / "media").stat().st_mode & 0o7777 == 0o2775, "the media directory keeps its permissions"
    assert sorted(os.listdir(data)) == ["media"], "neither the unpacked copy nor the old files may stay"


def test_media_restore_makes_the_media_directory_when_there_was_none(data, tmp_path, monkeypatch):
    media_restore(monkeypatch, archive_of("postgres", b"PGDMP" + bytes(50), MEDIA))
    assert tree(data / "media") == MEDIA


def test_media_restore_of_an_archive_without_media_leaves_an_empty_directory(data, tmp_path, monkeypatch):
    plant(data / "media", OLD_MEDIA)
    media_restore(monkeypatch, archive_of("sqlite", sqlite_file(tmp_path / "live.sqlite3"), {}))
    assert tree(data / "media") == {} and sorted(os.listdir(data)) == ["media"]


def test_what_media_tar_writes_comes_back_byte_for_byte_through_an_archive(data, tmp_path, monkeypatch):
    plant(data / "media", MEDIA)
    (tmp_path / "stream.tar").write_bytes(media_tar(monkeypatch))
    sqlite_file(tmp_path / "live.sqlite3")
    archive.write(tmp_path / "backup.tar", "sqlite", tmp_path / "live.sqlite3", tmp_path / "stream.tar",
                  datetime.now(timezone.utc))
    plant(data / "media", OLD_MEDIA)
    media_restore(monkeypatch, (tmp_path / "backup.tar").read_bytes())
    assert tree(data / "media") == MEDIA


def bad_archives(database: bytes) -> dict[str, tuple[bytes, str]]:
    listed = manifest("sqlite", database, MEDIA)
    members = [("manifest.json", listed), ("database.sqlite3", database)]
    files = [(f"media/{path}", content) for path, content in MEDIA.items()]
    return {
        "dotdot": (tar_of(*members, *files, ("media/../../escaped", b"x")), "refusing 'media/../../escaped'"),
        "absolute": (tar_of(*members, *files, ("/tmp/escaped", b"x")), "refusing '/tmp/escaped'"),
        "outside-media": (tar_of(*members, *files, ("settings.py", b"x")), "refusing 'settings.py'"),
        "symlink": (tar_of(*members, member("media/link", kind=tarfile.SYMTYPE, link="/etc/passwd"), *files),
                    "refusing 'media/link'"),
        "hardlink": (tar_of(*members, member("media/hard", kind=tarfile.LNKTYPE, link="/etc/passwd"), *files),
                     "refusing 'media/hard'"),
        "device": (tar_of(*members, member("media/null", kind=tarfile.CHRTYPE), *files), "refusing 'media/null'"),
        "not-as-listed": (tar_of(*members, files[0], ("media/photos/2026/cat.jpg", b"another cat")),
                          "media/photos/2026/cat.jpg is not as the manifest says"),
        "missing": (tar_of(*members, files[0]), "media/photos/2026/cat.jpg is not as the manifest says"),
        "no-manifest": (tar_of(*members[1:], *files), "the archive does not start with its manifest.json"),
        "cut": (tar_of(*members, *files)[:3000], "cannot unpack the media files"),
    }


@pytest.mark.parametrize("name", ["dotdot", "absolute", "outside-media", "symlink", "hardlink", "device",
                                  "not-as-listed", "missing", "no-manifest", "cut"])
def test_media_restore_refuses_a_bad_archive_and_leaves_the_media_directory_as_it_was(data, tmp_path, monkeypatch, name):
    plant(data / "media", OLD_MEDIA)
    content, message = bad_archives(sqlite_file(tmp_path / "live.sqlite3"))[name]
    said = refused(monkeypatch, content)
    assert said.startswith("dbtool: ") and message in said and "\n" not in said
    assert tree(data / "media") == OLD_MEDIA
    assert sorted(os.listdir(data)) == ["media"], "no unpacked copy may stay"
    assert not (tmp_path / "escaped").exists() and not Path("/tmp/escaped").exists()


def test_when_the_new_media_cannot_be_put_in_place_the_old_ones_stay(data, tmp_path, monkeypatch):
    plant(data / "media", OLD_MEDIA)
    renames = []
    real_rename = os.rename

    def rename(source, target):
        renames.append(target)
        if len(renames) == 2:  # the new folder into place
            raise OSError("simulated failure")
        real_rename(source, target)

    monkeypatch.setattr(dbtool.os, "rename", rename)
    said = refused(monkeypatch, archive_of("sqlite", sqlite_file(tmp_path / "live.sqlite3"), MEDIA))
    assert "cannot put the restored media files in place" in said and "the media files were not changed" in said
    assert tree(data / "media") == OLD_MEDIA
    assert sorted(os.listdir(data)) == ["media"]


# ---- unknown-migrations ----


def unknown_migrations(capsys) -> list[str]:
    dbtool.unknown_migrations()
    return capsys.readouterr().out.splitlines()


@pytest.mark.django_db
def test_a_database_migrated_by_this_code_has_no_unknown_migration(capsys):
    assert MigrationRecorder(connection).migration_qs.filter(app="guestbook").exists()
    assert unknown_migrations(capsys) == []


@pytest.mark.django_db
def test_migrations_a_newer_release_applied_are_named_one_a_line(capsys):
    recorder = MigrationRecorder(connection)
    recorder.record_applied("guestbook", "0002_entry_rating")
    recorder.record_applied("shop", "0001_initial")  # an app this code does not have at all
    assert unknown_migrations(capsys) == ["guestbook.0002_entry_rating", "shop.0001_initial"]


def test_migrations_a_squash_on_disk_replaced_are_known(monkeypatch, capsys):
    squash = SimpleNamespace(replaces=[("shop", "0001_initial"), ("shop", "0002_price")])
    loader = SimpleNamespace(
        disk_migrations={("shop", "0001_squashed_0002"): squash, ("shop", "0003_stock"): SimpleNamespace(replaces=[])},
        applied_migrations={("shop", "0001_initial"): None, ("shop", "0002_price"): None,
                            ("shop", "0001_squashed_0002"): None, ("shop", "0004_discount"): None},
    )
    monkeypatch.setattr("django.db.migrations.loader.MigrationLoader", lambda connection: loader)
    monkeypatch.setattr(dbtool, "wait_for_database", lambda timeout: None)
    assert unknown_migrations(capsys) == ["shop.0004_discount"]


def test_it_waits_for_the_database_first_as_long_as_the_entrypoint_does(monkeypatch):
    class Waited(Exception):
        pass

    def wait(timeout):
        raise Waited(timeout)

    monkeypatch.setattr(dbtool, "wait_for_database", wait)
    with pytest.raises(Waited) as waited:
        dbtool.unknown_migrations()
    assert waited.value.args == (entrypoint.DATABASE_WAIT_SECONDS,)

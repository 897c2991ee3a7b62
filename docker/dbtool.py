"""Data chores the tasks run inside the web container (`inv db.*`), or in a container of its image.

    counts            print "table<TAB>rows" for every table of the site's database
    sqlite-backup     write an online copy of the SQLite database to stdout
    sqlite-restore    read a copy from stdin, check it, and copy it into the live database
    media-tar         write a tar of the media directory (MEDIA_ROOT) to stdout
    media-restore     read a backup archive from stdin and put its media files in place of
                      the media directory's
    unknown-migrations
                      print "app.migration" for each migration the database has applied that
                      this image's code does not know, one a line (nothing: none); run with an
                      older release's image before going back to it

The SQLite copies use SQLite's backup API, which works page by page under SQLite's own
locks: the site keeps running, and a reader never sees half a restore. Temporary copies go
beside the database, and restored media beside the media directory, on the data volume: a
read-only container's /tmp is a small tmpfs, and a copy needs as much room as the original.
"""

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import sys
import tarfile
import tempfile

# Beside this file in the image; its setup is the one the site starts with.
from entrypoint import DATA_DIR, DATABASE_WAIT_SECONDS, setup_django, wait_for_database
from settingsrules import MEDIA_FOLDER

HEADER = b"SQLite format 3\x00"
# Where the uploads live on the data volume, unless the site's settings say otherwise.
MEDIA_DIR = f"{DATA_DIR}/{MEDIA_FOLDER}"
# The layout of a backup archive, as stack/archive.py writes it.
MANIFEST = "manifest.json"
MEDIA_PREFIX = "media/"
# tarfile's own guard against members that would land outside the folder, links and devices
# (Python 3.12, and the security releases of 3.8 to 3.11); the names are checked here too.
DATA_ONLY = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


def fail(message):
    sys.exit(f"dbtool: {message}")


def sqlite_path():
    from django.db import connection

    if connection.vendor != "sqlite":
        fail(f"the site's database is {connection.vendor}, not SQLite")
    return str(connection.settings_dict["NAME"])


def counts():
    from django.db import connection

    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
            print(f"{table}\t{cursor.fetchone()[0]}")


def sqlite_backup():
    path = sqlite_path()
    live = sqlite3.connect(path, timeout=20)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(path)) as scratch:
        copy_path = os.path.join(scratch, "backup.sqlite3")
        copy = sqlite3.connect(copy_path)
        live.backup(copy)
        # A single file: no WAL beside it that the copy would need.
        copy.execute("PRAGMA journal_mode=DELETE")
        copy.close()
        live.close()
        with open(copy_path, "rb") as source:
            shutil.copyfileobj(source, sys.stdout.buffer)
    sys.stdout.buffer.flush()


def sqlite_restore():
    path = sqlite_path()
    with tempfile.TemporaryDirectory(dir=os.path.dirname(path)) as scratch:
        copy_path = os.path.join(scratch, "restore.sqlite3")
        with open(copy_path, "wb") as target:
            shutil.copyfileobj(sys.stdin.buffer, target)
        with open(copy_path, "rb") as source:
            if source.read(len(HEADER)) != HEADER:
                fail("the file is not a SQLite database; nothing was changed")
        copy = sqlite3.connect(copy_path)
        try:
            problems = [row[0] for row in copy.execute("PRAGMA integrity_check")]
        except sqlite3.DatabaseError as exc:
            fail(f"the backup is damaged ({exc}); nothing was changed")
        if problems != ["ok"]:
            fail(f"the backup is damaged ({problems[0]}); nothing was changed")
        live = sqlite3.connect(path, timeout=20)
        # One step under SQLite's write lock: the live database is the old one or the new one.
        copy.backup(live)
        live.close()
        copy.close()


def media_root():
    from django.conf import settings

    # Django's default is "", which would be the working directory: the image's place instead.
    return os.path.abspath(str(settings.MEDIA_ROOT or MEDIA_DIR))


def regular_files(folder, prefix=""):
    """(path under the media directory, path) of every regular file below `folder`, in order.

    Links are left out, never followed: one may point anywhere in the container. So are
    pipes, sockets and devices, which hold no upload.
    """
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda entry: entry.name):
            name = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                yield from regular_files(entry.path, name + "/")
            elif entry.is_file(follow_symlinks=False):
                yield name, entry.path
            else:
                print(f"dbtool: left out {entry.path}: not a regular file", file=sys.stderr)


def media_tar():
    root = media_root()
    # No media directory: no uploads yet, so an empty tar.
    files = regular_files(root) if os.path.isdir(root) else []
    try:
        with tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for name, path in files:
                add_file(tar, name, path)
    except OSError as exc:
        # A file shortened while it was read ends up here too: the tar would be cut inside it.
        fail(f"cannot copy the media files: {exc}")
    sys.stdout.buffer.flush()


def add_file(tar, name, path):
    try:
        # O_NOFOLLOW: a file swapped for a link since the listing is refused, not followed.
        handle = open(path, "rb", opener=lambda file, flags: os.open(file, flags | os.O_NOFOLLOW))
    except FileNotFoundError:
        return  # deleted since the listing, as if before it
    with handle:
        tar.addfile(tar.gettarinfo(arcname=name, fileobj=handle), handle)


def media_path(member):
    """Where under the media directory a member of the archive goes; fail on one that is not a file there."""
    relative = member.name[len(MEDIA_PREFIX):] if member.name.startswith(MEDIA_PREFIX) else ""
    if not member.isreg() or any(part in ("", ".", "..") for part in relative.split("/")):
        fail(f"refusing {member.name!r}: not a file inside the media directory; the media files were not changed")
    return relative


def unpack_media(stream, target):
    """Extract the media files of the archive on `stream` into `target`; return {path: (size, sha256)}
    from its manifest."""
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        members = iter(tar)
        first = next(members, None)
        if first is None or first.name != MANIFEST or not first.isreg():
            fail(f"the archive does not start with its {MANIFEST}; the media files were not changed")
        manifest = json.load(tar.extractfile(first))
        for member in members:
            if member.name == manifest["database"]["path"]:
                continue  # restored before, on its own
            member.name = media_path(member)
            tar.extract(member, target, **DATA_ONLY)
    return {entry["path"]: (entry["size"], entry["sha256"]) for entry in manifest["media"]}


def digests(folder):
    """{path under `folder`: (size, sha256)} of every file below it."""
    found = {}
    for directory, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(directory, name)
            sha256 = hashlib.sha256()
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    sha256.update(block)
            found[os.path.relpath(path, folder)] = (os.path.getsize(path), sha256.hexdigest())
    return found


def swap_in(new, root):
    """Put the folder `new` in place of the media directory `root` by renames, keeping its permissions;
    the old one goes only once the new one is in place."""
    os.chmod(new, stat.S_IMODE(os.stat(root if os.path.isdir(root) else os.path.dirname(root)).st_mode))
    if not os.path.lexists(root):
        os.rename(new, root)
        return
    # Two renames, not one atomic exchange (Python has no renameat2): for that instant the
    # site finds no media directory, and a request for a file gets a 404.
    old = new + ".old"
    os.rename(root, old)
    try:
        os.rename(new, root)
    except OSError:
        os.rename(old, root)
        raise
    shutil.rmtree(old, ignore_errors=True)
    if os.path.lexists(old):
        print(f"dbtool: the restored media files are in place, but the old ones are still in {old}", file=sys.stderr)


def media_restore():
    root = media_root()
    parent = os.path.dirname(root)
    os.makedirs(parent, exist_ok=True)
    # Beside the media directory, so that the swap is a rename on one filesystem.
    staging = tempfile.mkdtemp(prefix=".media-restore-", dir=parent)
    try:
        try:
            expected = unpack_media(sys.stdin.buffer, staging)
        except (tarfile.TarError, OSError, ValueError, KeyError, TypeError) as exc:
            fail(f"cannot unpack the media files ({exc}); the media files were not changed")
        found = digests(staging)
        paths = sorted(set(found) | set(expected))
        wrong = next((path for path in paths if found.get(path) != expected.get(path)), None)
        if wrong is not None:
            fail(f"{MEDIA_PREFIX}{wrong} is not as the manifest says; the media files were not changed")
        try:
            swap_in(staging, root)
        except OSError as exc:
            fail(f"cannot put the restored media files in place of {root} ({exc}); the media files were not changed")
    finally:
        # Gone already after the swap; what is left of a failed restore goes.
        shutil.rmtree(staging, ignore_errors=True)


def unknown_migrations():
    """Print the applied migrations this code does not know, sorted, after waiting for the database
    as the entrypoint does (a job's container may start before it answers).

    Known means on disk here, or replaced by a squashed migration on disk: the rows of the
    migrations a squash replaced stay in django_migrations after their files are deleted.
    """
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    wait_for_database(DATABASE_WAIT_SECONDS)
    loader = MigrationLoader(connection)
    known = set(loader.disk_migrations)
    for migration in loader.disk_migrations.values():
        known.update(tuple(key) for key in migration.replaces)
    for app_label, name in sorted(set(loader.applied_migrations) - known):
        print(f"{app_label}.{name}")


COMMANDS = {
    "counts": counts,
    "sqlite-backup": sqlite_backup,
    "sqlite-restore": sqlite_restore,
    "media-tar": media_tar,
    "media-restore": media_restore,
    "unknown-migrations": unknown_migrations,
}


def main(argv):
    if len(argv) != 1 or argv[0] not in COMMANDS:
        fail(f"usage: dbtool.py {{{'|'.join(COMMANDS)}}}")
    # What `compose exec` runs skips the entrypoint, which sets the same umask: the files and
    # folders made here on the data volume stay writable by the other mode's user too.
    os.umask(0o002)
    setup_django()
    COMMANDS[argv[0]]()


if __name__ == "__main__":
    main(sys.argv[1:])

"""Database chores the tasks run inside the web container (`inv db.*`).

    counts            print "table<TAB>rows" for every table of the site's database
    sqlite-backup     write an online copy of the SQLite database to stdout
    sqlite-restore    read a copy from stdin, check it, and copy it into the live database

The SQLite copies use SQLite's backup API, which works page by page under SQLite's own
locks: the site keeps running, and a reader never sees half a restore. Temporary copies go
beside the database, on the data volume: a read-only container's /tmp is a small tmpfs,
and a copy needs as much room as the database.
"""

import os
import shutil
import sqlite3
import sys
import tempfile

# Beside this file in the image; its setup is the one the site starts with.
from entrypoint import setup_django

HEADER = b"SQLite format 3\x00"


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


COMMANDS = {"counts": counts, "sqlite-backup": sqlite_backup, "sqlite-restore": sqlite_restore}


def main(argv):
    if len(argv) != 1 or argv[0] not in COMMANDS:
        fail(f"usage: dbtool.py {{{'|'.join(COMMANDS)}}}")
    setup_django()
    COMMANDS[argv[0]]()


if __name__ == "__main__":
    main(sys.argv[1:])

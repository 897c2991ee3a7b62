"""Container entrypoint.

`serve` (the image's default command) waits for the database, applies migrations
under a lock so that only one container runs them at a time, then replaces itself
with the server: gunicorn in production, runserver (reloading on every edit) with
ENVIRONMENT=development. The site never answers before its tables exist, and the
server is PID 1, so SIGTERM reaches it directly and a stop takes a moment, not
ten seconds.

Any other command (`python manage.py shell`, `bash`, ...) is executed as given.
"""

import contextlib
import fcntl
import os
import sys
import time

PORT = os.environ.get("PORT") or "8000"
DATABASE_WAIT_SECONDS = float(os.environ.get("DATABASE_WAIT_SECONDS") or "60")
# Any fixed number will do: it names the lock, shared by every container of the site.
MIGRATION_LOCK_ID = 0x6D696772


def log(message):
    print(f"entrypoint: {message}", file=sys.stderr, flush=True)


def setup_django():
    sys.path.insert(0, os.getcwd())
    import django

    django.setup()


def wait_for_database(timeout):
    from django.db import connection
    from django.db.utils import OperationalError

    deadline = time.monotonic() + timeout
    while True:
        try:
            connection.ensure_connection()
            return
        except OperationalError as exc:
            if time.monotonic() >= deadline:
                sys.exit(f"entrypoint: the database did not answer within {timeout:.0f}s: {exc}")
            log(f"waiting for the database: {exc}")
            time.sleep(1)


@contextlib.contextmanager
def migration_lock():
    """Serialise `migrate` across containers: an advisory lock on PostgreSQL, a file lock beside SQLite."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_ID])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_ID])
    elif connection.vendor == "sqlite" and str(connection.settings_dict["NAME"]) not in ("", ":memory:"):
        with open(f"{connection.settings_dict['NAME']}.migrate-lock", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
    else:
        yield


def migrate():
    from django.core.management import call_command

    with migration_lock():
        call_command("migrate", interactive=False, verbosity=1)


def share_database_directory():
    """Keep the SQLite files writable by both modes.

    Production runs as the image's user, development as the host user with the
    image's group added: new files are group-writable (umask) and inherit the
    group (setgid directory); files made before that get the group bits added by
    whoever owns them.
    """
    os.umask(0o002)
    from django.db import connection

    name = str(connection.settings_dict["NAME"])
    if connection.vendor != "sqlite" or name in ("", ":memory:") or not os.path.isdir(os.path.dirname(name)):
        return
    directory = os.path.dirname(name)
    for path in [directory, *(os.path.join(directory, entry) for entry in os.listdir(directory))]:
        status = os.stat(path)
        if status.st_uid == os.getuid():
            extra = 0o2070 if os.path.isdir(path) else 0o060
            if status.st_mode & extra != extra:
                os.chmod(path, status.st_mode | extra)


def default_workers():
    """gunicorn's rule of thumb, two per CPU plus one, capped so a big host does not run out of memory."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(2 * cpus + 1, 12)


def gunicorn_command():
    from django.conf import settings

    # WSGI_APPLICATION is "package.module.attribute"; gunicorn wants "package.module:attribute".
    module, _, attribute = settings.WSGI_APPLICATION.rpartition(".")
    workers = os.environ.get("WEB_CONCURRENCY", "").strip() or str(default_workers())
    # gunicorn would also read WEB_CONCURRENCY itself, and fail on an empty one.
    os.environ.pop("WEB_CONCURRENCY", None)
    return [
        "gunicorn",
        f"{module}:{attribute}",
        "--bind", f"0.0.0.0:{PORT}",
        "--workers", workers,
        "--worker-class", "gthread",
        "--threads", os.environ.get("GUNICORN_THREADS") or "4",
        "--access-logfile", "-",
        "--error-logfile", "-",
        # Below Compose's stop_grace_period, so in-flight requests finish before a SIGKILL.
        "--graceful-timeout", os.environ.get("GUNICORN_GRACEFUL_TIMEOUT") or "8",
        # Its default place is under $HOME, which the read-only root filesystem keeps unwritable.
        "--no-control-socket",
    ]


def runserver_command():
    return ["python", "manage.py", "runserver", f"0.0.0.0:{PORT}"]


def serve():
    setup_django()
    wait_for_database(DATABASE_WAIT_SECONDS)
    share_database_directory()
    migrate()
    from django.db import connections

    connections.close_all()
    development = os.environ.get("ENVIRONMENT") == "development"
    command = runserver_command() if development else gunicorn_command()
    log("starting " + " ".join(command))
    os.execvp(command[0], command)


def main(argv):
    if argv in ([], ["serve"]):
        serve()
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])

"""The questions asked before data is replaced or deleted: a yes typed at a terminal, or a flag.

Without a terminal (scripts, CI) nothing is asked and nothing is assumed: the flag is required.
"""

from __future__ import annotations

import sys

from . import backup as backups
from .errors import StackError
from .runner import Stack


def answered_beforehand(stack: Stack, yes: bool, what: str) -> bool:
    """True when there is nothing to ask (--yes, or a dry run); StackError saying `what` when there is no
    terminal to ask at."""
    if yes or stack.dry:
        return True
    if not stack.interactive:
        raise StackError(f"{what}; add --yes to confirm when not at a terminal")
    return False


def confirm_volume_deletion(stack: Stack, yes: bool) -> None:
    """Data goes only on an explicit --volumes and a yes: the project's name typed at a terminal, or --yes."""
    if answered_beforehand(stack, yes, "`down --volumes` deletes the database and the media files"):
        return
    name = stack.settings.project_name
    volumes = ", ".join(stack.volumes()) or "none found"
    print(f"This deletes the data volumes of project {name} ({volumes}), and the database and media files with them.")
    if input(f"Type the project name ({name}) to confirm: ").strip() != name:
        raise StackError("nothing deleted: the answer did not match the project name")


def confirm_restore(stack: Stack, backup: backups.Contents, yes: bool) -> None:
    """A restore replaces the database, and the media files too from a backup that has them:
    it needs a yes, typed at a terminal or given as --yes."""
    if answered_beforehand(stack, yes, "a restore replaces the current database and media files"):
        return
    name = stack.settings.project_name
    if backup.media is None:
        print(f"This replaces the database of project {name} with {backup.path}, a backup of the database alone: "
              "the media files stay as they are.")
    else:
        print(f"This replaces the database and the media files of project {name} with those in {backup.path} "
              f"({backups.media_count(backup.media)}).")
    if input("Restore it? [y/N] ").strip().lower() not in ("y", "yes"):
        raise StackError("nothing restored: the answer was not yes")


def offer_backup_before_deletion(stack: Stack, yes: bool) -> None:
    """Before volumes go: at a terminal, offer a backup; with --yes, say where the last one is."""
    if stack.dry or not stack.volumes():
        return
    settings = stack.settings
    if yes:
        found = [item for item in backups.list_backups(settings.root) if item.engine == settings.database]
        if found:
            where = backups.describe_backup(found[-1], settings.root)
            print(f"the last backup is {where}; `inv db.restore` brings it back", file=sys.stderr)
        else:
            print(f"there is no {backups.ENGINE_NAME[settings.database]} backup in {backups.BACKUP_DIR}/: "
                  "the data is gone for good", file=sys.stderr)
    elif stack.interactive:
        answer = input("Back up the database and the media files first (inv db.backup)? [y/N] ")
        if answer.strip().lower() in ("y", "yes"):
            backups.report_backup(backups.backup(stack), settings.root)

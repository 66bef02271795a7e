"""`apiserver backup` and `apiserver restore`: a consistent snapshot of the SQLite store and back.

Both work on files, not through the API: `backup` may run beside a serving server (it reads with
SQLite's online backup API), `restore` fills a new, empty data directory. Neither copies the KEK
(docs/backup.md says how to keep it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    backup = sub.add_parser(
        "backup",
        help="snapshot the SQLite store (safe while the server runs)",
        description="Write a consistent snapshot of DATA_DIR/apiserver.db to FILE, while the server runs "
        "and writes. The KEK is not in it: keep the KEK file safely, apart from the backups.",
        epilog="example:\n  apiserver backup --data-dir /var/lib/apiserver --output /backups/apiserver-$(date +%F).db",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    backup.add_argument("--data-dir", required=True, help="the server's data directory")
    backup.add_argument("--output", required=True, metavar="FILE", help="the backup file to write (mode 0600)")
    backup.set_defaults(run=_backup)

    restore = sub.add_parser(
        "restore",
        help="restore a backup into a new data directory",
        description="Restore a backup made by `apiserver backup` into an empty (or new) data directory. "
        "Then give the server the KEKs the backup needs (it names them), e.g. copy the KEK file to DIR/kek.",
        epilog="example:\n  apiserver restore --input /backups/apiserver.db --data-dir /var/lib/apiserver-new",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    restore.add_argument("--input", required=True, metavar="FILE", help="a file written by apiserver backup")
    restore.add_argument("--data-dir", required=True, help="an empty or new directory")
    restore.set_defaults(run=_restore)


def _needs(ids: list[str]) -> str:
    return ", ".join(ids) if ids else "none yet (no data key)"


def _backup(args: argparse.Namespace) -> int:
    from ..store.backup import DATABASE_NAME, BackupError, backup

    try:
        ids = backup(Path(args.data_dir) / DATABASE_NAME, Path(args.output))
    except (BackupError, OSError) as exc:
        print(f"apiserver: {exc}", file=sys.stderr)
        return 1
    print(f"backup written to {args.output}; restoring it needs the KEKs: {_needs(ids)}", flush=True)
    return 0


def _restore(args: argparse.Namespace) -> int:
    from ..store.backup import BackupError, restore

    try:
        ids = restore(Path(args.input), Path(args.data_dir))
    except (BackupError, OSError) as exc:
        print(f"apiserver: {exc}", file=sys.stderr)
        return 1
    print(
        f"restored into {args.data_dir}; the server needs the KEKs: {_needs(ids)} "
        f"(copy the KEK file to {Path(args.data_dir) / 'kek'} or give --kek-file)",
        flush=True,
    )
    return 0

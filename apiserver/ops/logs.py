"""Log output: classic text lines (the default) or one JSON object a line (`--log-format json`).

A JSON line always has `time` (RFC 3339, UTC, milliseconds), `level`, `logger` and `message`, and
the fields a record carries as `extra` among `FIELDS`: an access log line has the request id,
surface, verb, resource, status, duration in seconds, method, path and remote address. Nothing
else of a record is copied: its arguments are already in the message, which the code writing it
keeps free of values and tokens, and a traceback is kept as frames only (never the exception's
message, which may quote a request's data).
"""

from __future__ import annotations

import logging
import sys
import traceback
from datetime import UTC, datetime

import orjson

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
FIELDS = ("request_id", "surface", "verb", "resource", "status", "duration", "method", "path", "remote")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                entry[field] = value
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            entry["exception"] = type(error).__name__
            entry["frames"] = "".join(traceback.format_tb(error.__traceback__))
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str, log_format: str) -> None:
    """The root logger's one handler, on stderr, in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    if root.level > logging.DEBUG:
        logging.getLogger("botocore").setLevel(logging.WARNING)  # a line per AWS client about where credentials were

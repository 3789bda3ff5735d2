"""gunicorn's logger for the web service (`--logger-class=oms.gunicorn_logging.AccessLogger`, docker-compose.yml and
the Dockerfile): its access lines name a public tracking link's address as `/t/<token>`.

A link's token is a password (RELIABILITY.md B6: never in a server log). The application's own log hides it
(oms.log_filters), but gunicorn writes its access log with its own handler, which Django's logging does not reach, and
its default line holds the request line (`%(r)s`). Every value an access-log format can name (the request line, path,
query, referer, any header or environ variable) is written with the token replaced, so an operator's own
`--access-logformat` keeps it out too.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from oms.log_filters import without_tracking_tokens


class AccessLogger(Logger):  # type: ignore[misc]  # gunicorn ships no type hints
    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for name, value in atoms.items():
            if isinstance(value, str) and "/t/" in value:
                atoms[name] = without_tracking_tokens(value)
        return atoms

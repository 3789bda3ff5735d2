"""Filters on what the console writes (settings.LOGGING).

`TrackingTokenFilter`: a public tracking link (`/t/<token>/`, portal/links.py) is opened by whoever holds its token,
so the token is a password, and RELIABILITY.md B6 keeps it out of the server's log. The link pages keep Django's
own 4xx lines quiet, but other lines name the address too: the development server's line for every request, the
database-lost line (oms.middleware) and Django's "Internal Server Error: <path>" when a page fails. Those are written
with the token replaced by `<token>`, so the line still says a link was asked for, and how it was answered.
gunicorn writes its access log with its own handler, which this filter does not reach: oms.gunicorn_logging
does it there.
"""

from __future__ import annotations

import logging
import re

# A link's address, as a path or in a full URL: after the start, a space, a quote, a bracket, an `=` or a host
# (`://host:port`), so that a `/t/` inside another address (/portal/t/…) is left alone.
_LINK = re.compile(r"""(^|[\s"'(\[=]|://[^/\s"']+)/t/[^/\s"'?#]+""")


def without_tracking_tokens(text: str) -> str:
    return _LINK.sub(r"\1/t/<token>", text)


class TrackingTokenFilter(logging.Filter):
    """Writes a record naming a link's address with its token replaced (the record itself is changed: every
    handler after this one reads it so)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the message: the handler reports it (handleError)
            return True
        if "/t/" in message:
            redacted = without_tracking_tokens(message)
            if redacted != message:
                record.msg, record.args = redacted, ()
        return True

"""gunicorn's access log, as the web service (docker-compose.yml) and the image's own command (Dockerfile) start it,
writes a public tracking link's address as `/t/<token>`: the token is a password (RELIABILITY.md B6: tokens "never
appear in server logs"). The application's own log hides it (oms/log_filters.py,
tests/portal/test_tracking_link_logs.py); gunicorn writes its access log with its own handler, which Django's logging
configuration does not reach, so both commands name oms.gunicorn_logging.AccessLogger. Found in a security walk
(seventeenth session): the request line held the token.
"""

from __future__ import annotations

import datetime
import json
import logging
import re
from pathlib import Path
from types import SimpleNamespace

import yaml
from gunicorn.config import Config

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "Zq7" * 14 + "_"  # the shape of secrets.token_urlsafe(32)


def _compose_web_arguments() -> list[str]:
    command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]["command"]
    assert command[0] == "gunicorn", command
    return [argument for argument in command[1:] if argument.startswith("-")]


def _dockerfile_arguments() -> list[str]:
    line = next(line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD "))
    command = json.loads(line.removeprefix("CMD "))
    assert command[0] == "gunicorn", command
    return [argument for argument in command[1:] if argument.startswith("-")]


def _access_line(arguments: list[str], path: str = f"/t/{TOKEN}/", query: str = "") -> str:
    """What gunicorn started with these arguments writes to its access log for one request of `path`."""
    config = Config()
    parsed = config.parser().parse_args(arguments)
    for name, value in vars(parsed).items():
        if value is not None and name != "args":
            config.set(name.lower(), value)
    logger = config.logger_class(config)
    written: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            written.append(record.getMessage())

    logger.access_log.addHandler(Keep())
    raw_uri = f"{path}?{query}" if query else path
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": raw_uri, "PATH_INFO": path, "QUERY_STRING": query,
               "HTTP_REFERER": f"https://oms.example.com/t/{TOKEN}/",
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "192.0.2.1"}  # fmt: skip
    response = SimpleNamespace(status="200 OK", sent=7136, headers=[("Content-Type", "text/html")])
    logger.access(response, SimpleNamespace(headers=[("Host", "oms.example.com")]), environ, datetime.timedelta(0))
    assert written, "gunicorn wrote no access line: the test no longer shows what it writes"
    return "\n".join(written)


def test_the_compose_web_service_writes_no_link_token_to_its_access_log():
    line = _access_line(_compose_web_arguments())
    assert TOKEN not in line, line
    assert re.search(r"\b200\b", line)  # still an access line


def test_the_images_own_command_writes_no_link_token_to_its_access_log():
    line = _access_line(_dockerfile_arguments())
    assert TOKEN not in line, line
    assert re.search(r"\b200\b", line)


def test_a_link_reads_as_token_in_the_access_line_and_other_paths_are_written_as_they_are():
    line = _access_line(_compose_web_arguments())
    assert '"GET /t/<token>/ HTTP/1.1"' in line, line
    other = _access_line(_compose_web_arguments(), path="/portal/orders/HAM-26-000001/", query="q=t/abc")
    assert '"GET /portal/orders/HAM-26-000001/?q=t/abc HTTP/1.1"' in other, other


def test_an_operators_own_access_format_keeps_the_token_out_too():
    """Every atom a format can name: the path, the query, the referer, an environ variable."""
    arguments = [*_compose_web_arguments(), "--access-logformat=%(U)s %(q)s %(f)s %({raw_uri}e)s %(s)s"]
    line = _access_line(arguments, query="from=mail")
    assert TOKEN not in line, line
    assert line.startswith("/t/<token>/ from=mail https://oms.example.com/t/<token>/ /t/<token>/?from=mail 200"), line

"""RELIABILITY.md F1's code-review clause, as a test: every inbound webhook signature (tracking webhooks, Shopify
and Standard Webhooks order intake) and every API key is compared with hmac.compare_digest, whose time does not
depend on how many leading characters match, and no module that checks one compares a digest with `==`. A plain
`==` would let a sender find a valid signature one character at a time by timing the 401s."""

from __future__ import annotations

import ast
import hmac
import time
from pathlib import Path

import pytest

from orders import webhooks_signatures
from partners.models import ApiKey
from tracking.ingest import webhooks
from tracking.ingest.models import WebhookSource

ROOT = Path(__file__).resolve().parents[2]
CHECKING_MODULES = ["orders/webhooks_signatures.py", "tracking/ingest/webhooks.py", "partners/models.py"]
SECRET = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="
BODY = b'{"events": []}'


@pytest.fixture
def compared(monkeypatch):
    """The pairs each check handed to hmac.compare_digest."""
    seen: list[tuple[object, object]] = []
    real = hmac.compare_digest

    def spy(a, b):
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    return seen


def test_every_signature_check_compares_in_constant_time(compared):
    now = str(int(time.time()))
    almost = webhooks.sign(secret=SECRET, timestamp=now, body=BODY)[:-1] + "0"

    assert webhooks_signatures.shopify_signature_valid(secret=SECRET, body=BODY, header="bm90IGl0") is False
    assert (
        webhooks_signatures.standard_signature_valid(
            secret=SECRET, msg_id="msg_1", timestamp=now, body=BODY, header="v1,bm90IGl0"
        )
        is False
    )
    source = WebhookSource(name="acme", secret=SECRET)
    assert webhooks.signature_problem(source=source, timestamp=now, signature=almost, body=BODY) is not None
    assert ApiKey(key_hash="0" * 64).matches("oms_live_not-the-key") is False

    assert len(compared) == 4


def test_no_module_that_checks_a_signature_compares_a_digest_with_equals():
    suspects = []
    for name in CHECKING_MODULES:
        for node in ast.walk(ast.parse((ROOT / name).read_text())):
            if isinstance(node, ast.Compare) and any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops):
                names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
                names |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
                if any(word in n.lower() for n in names for word in ("digest", "signature", "expected", "key_hash")):
                    suspects.append(f"{name}:{node.lineno}")
    assert suspects == []

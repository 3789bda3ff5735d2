"""RELIABILITY.md B6, the guessing side of public tracking links: random tokens of the valid shape, however many,
each get the one 404 an unknown link gets (no answer tells a near miss from a far one), and the tokens OMS hands out
carry 256 random bits (ASVS 7.2.3 asks for at least 128), so guessing one is hopeless rather than merely slow."""

from __future__ import annotations

import base64
import secrets

import pytest
from django.urls import reverse

from portal.links import tracking_link_create
from portal.models import TrackingLink, new_token, token_digest
from tests.tracking.conftest import make_order, ops_scope

__all__ = ["make_order", "ops_scope"]

pytestmark = pytest.mark.usefixtures("fresh_rate_window")

GUESSES = 200  # each is a full request; 200 keep the test under a few seconds


def test_many_random_tokens_of_the_valid_shape_are_each_the_one_404(make_order, ops_user, client, settings):
    settings.OMS_TRACKING_LINK_RATE = GUESSES + 10  # the rate limit is B6's other test; here every guess is read
    link, token = tracking_link_create(order=make_order(), by=ops_user)
    near_miss = token[:-1] + ("A" if token[-1] != "A" else "B")

    guesses = [secrets.token_urlsafe(32) for _ in range(GUESSES)] + [near_miss, token.upper(), token + "A"]
    answers = {}
    for guess in guesses:
        response = client.get(reverse("public_tracking", args=[guess]))
        answers[(response.status_code, response.content)] = guess

    assert len(answers) == 1, "two guesses got different answers"
    (status, body), _ = answers.popitem()
    assert status == 404
    assert token not in body.decode()
    link.refresh_from_db()
    assert link.opened_count == 0
    assert client.get(reverse("public_tracking", args=[token])).status_code == 200


def test_a_link_token_carries_256_random_bits_and_only_its_digest_is_stored(make_order, ops_user):
    tokens = [new_token() for _ in range(1000)]

    assert len(set(tokens)) == len(tokens)
    for token in tokens[:50]:
        assert len(base64.urlsafe_b64decode(token + "=")) == 32  # 256 bits, URL-safe, no padding
    link, token = tracking_link_create(order=make_order(), by=ops_user)
    assert len(token) == 43
    stored = TrackingLink.objects.filter(pk=link.pk).values().get()
    assert token not in str(stored)
    assert stored["token_digest"] == token_digest(token)

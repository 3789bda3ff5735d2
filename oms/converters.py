"""Path converters the apps' URL maps share, registered when this module is imported (each urls.py using one
imports it, so the registration never depends on which URL map Django loads first)."""

from django.urls import register_converter

# Our references as OMS issues them: orders HAM-26-000123 (orders.references), shipments M-HAM-26-000012 and
# H-HAM-26-000013 (tracking.services.planning); a branch code is 2 to 10 upper-case letters or digits
# (partners.models.code_validator). Lower case passes too: the screens and the API read a reference case-blind.
# 24 characters is the longest a reference column holds (Shipment.reference; Order.reference holds 20).
REFERENCE = r"[A-Za-z0-9-]{1,24}"


class ReferenceConverter:
    """`<ref:reference>`: an order or shipment reference in a URL. Anything a reference can never hold (a NUL
    byte, a space, an encoded slash, a value longer than any reference) matches no URL and answers 404 without
    reaching a view: passed on, a NUL byte made PostgreSQL refuse the lookup (DataError), a 500."""

    regex = REFERENCE

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ReferenceConverter, "ref")

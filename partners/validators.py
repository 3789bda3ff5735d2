"""Validators for codes used across the apps."""

import pycountry
from django.core.exceptions import ValidationError


def validate_currency_code(value: str) -> None:
    """An ISO 4217 alphabetic currency code that exists, e.g. EUR."""
    if not value or len(value) != 3 or not value.isalpha() or not value.isupper():
        raise ValidationError("Use a three-letter ISO 4217 currency code in capitals, e.g. EUR.", code="currency")
    if pycountry.currencies.get(alpha_3=value) is None:
        raise ValidationError(f"{value} is not an ISO 4217 currency code.", code="currency")

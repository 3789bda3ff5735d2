"""Who: organisations (our company, its branches, customers, carriers, agents, warehouses, vendors),
people (the custom user model, logging in by email), memberships with roles, and API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from typing import Any, ClassVar, Self

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower, Upper
from django.utils import timezone

from partners.validators import validate_currency_code, validate_time_zone


def login_email(typed: str) -> str:
    """The email address that sign-in looks up, and that the sign-in lockout counts (oms.signin), for what was
    typed: NFKC (as Django's sign-in form does), trimmed, lower-cased by Python, as addresses are stored.

    Sign-in matches this exactly, never with the database's case-insensitive comparison: PostgreSQL's UPPER()
    folds more than Python's lower() (alice spelt with a dotless i, U+0131, is "ALICE" there), so a spelling that
    the lockout counted as another person reached the same account with a fresh allowance. One function for both
    keeps them in step."""
    return unicodedata.normalize("NFKC", typed).strip().lower()


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, username: str | None) -> User:
        """Log-in ignores the case of the email address: ALICE@… finds alice@… (see login_email)."""
        return self.get(email=login_email(username or ""))

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in with an email address.

    `is_staff` keeps Django's meaning (may open the admin console). Whether someone works for
    our company, a customer or a partner comes from their memberships, not from this flag.
    """

    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(
        default=True, help_text="Unticking this blocks the login and ends the person's API access."
    )
    is_staff = models.BooleanField(
        "admin console access", default=False, help_text="May log into the configuration console."
    )
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.full_name or self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class OrganisationKind(models.TextChoices):
    COMPANY = "company", "Our company"
    BRANCH = "branch", "Branch (our office)"
    CUSTOMER = "customer", "Customer"
    CARRIER = "carrier", "Carrier"
    AGENT = "agent", "Agent"
    WAREHOUSE = "warehouse", "Warehouse"
    VENDOR = "vendor", "Vendor"


INTERNAL_KINDS = frozenset({OrganisationKind.COMPANY, OrganisationKind.BRANCH})
# Everyone else. An organisation is one or the other, never both (the organisation_internal_or_external
# constraint): our company's people and keys act as staff over every customer's data.
EXTERNAL_KINDS = frozenset(OrganisationKind) - INTERNAL_KINDS
# The kinds the partner role may be held in. The partner portal shows an organisation the legs it runs and what they
# carry, and a leg is run by a carrier, an agent or a warehouse (tracking.selectors.LEG_RUNNER_KINDS, docs/planning.md
# "Who runs a leg"): a vendor alone runs none, so its people would sign in to nothing (services.membership_check).
PARTNER_KINDS = frozenset({OrganisationKind.CARRIER, OrganisationKind.AGENT, OrganisationKind.WAREHOUSE})
# The kinds whose API keys see something (partners.scoping.scope_for_api_key): ours (staff keys), a customer (its
# orders), a leg runner (its legs). A vendor alone's key would see nothing, so it gets none (services.api_key_check).
API_KEY_KINDS = INTERNAL_KINDS | PARTNER_KINDS | {OrganisationKind.CUSTOMER}

code_validator = RegexValidator(r"^[A-Z0-9]{2,10}$", "Use 2 to 10 upper-case letters or digits, e.g. ACME or HAM.")


class OrganisationQuerySet(models.QuerySet["Organisation"]):
    def of_kind(self, kind: str) -> Self:
        return self.filter(kinds__contains=[kind])

    def customers(self) -> Self:
        return self.of_kind(OrganisationKind.CUSTOMER)

    def branches(self) -> Self:
        return self.of_kind(OrganisationKind.BRANCH)

    def active(self) -> Self:
        return self.filter(is_active=True)


class Organisation(models.Model):
    """A company we deal with, or our own company and its branches; it can have several kinds."""

    code = models.CharField(
        max_length=10,
        unique=True,
        validators=[code_validator],
        help_text="Short unique code used on orders and in files, e.g. ACME, HAM.",
    )
    name = models.CharField(max_length=200, help_text="Trading name shown on screens.")
    legal_name = models.CharField(max_length=200, blank=True, help_text="Registered name for documents and invoices.")
    kinds = ArrayField(
        models.CharField(max_length=20, choices=OrganisationKind.choices),
        default=list,
        help_text="What this organisation is to us; several are allowed (e.g. carrier and vendor).",
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        help_text="For a branch: our company.",
    )
    account_branch = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="accounts",
        limit_choices_to={"kinds__contains": ["branch"]},
        help_text="For customers: the branch that handles their orders unless an order names another.",
    )
    tax_id = models.CharField("tax id", max_length=40, blank=True, help_text="VAT, EIN or other tax number.")
    default_currency = models.CharField(
        max_length=3,
        default="EUR",
        validators=[validate_currency_code],
        help_text="ISO 4217 code. For a branch, its base (accounting) currency.",
    )
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text=(
            "IANA time zone, e.g. Europe/Berlin. A branch plans on it and its staff read times on it; a customer's or "
            "partner's people read the portal on it."
        ),
    )
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    website = models.URLField(blank=True)
    is_active = models.BooleanField(default=True)
    may_place_orders = models.BooleanField(
        default=True, help_text="For customers: untick to stop new orders (e.g. credit hold)."
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrganisationQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        indexes = [GinIndex(fields=["kinds"], name="organisation_kinds_gin")]
        constraints = [
            models.CheckConstraint(condition=models.Q(code=Upper("code")), name="organisation_code_upper"),
            models.CheckConstraint(condition=~models.Q(kinds=[]), name="organisation_has_a_kind"),
            models.CheckConstraint(
                condition=~(
                    models.Q(kinds__overlap=sorted(INTERNAL_KINDS)) & models.Q(kinds__overlap=sorted(EXTERNAL_KINDS))
                ),
                name="organisation_internal_or_external",
                violation_error_message="Our company or a branch cannot also be a customer, carrier, agent, "
                "warehouse or vendor.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"

    def has_kind(self, kind: str) -> bool:
        return kind in self.kinds

    @property
    def is_internal(self) -> bool:
        return bool(INTERNAL_KINDS.intersection(self.kinds))

    @property
    def is_customer(self) -> bool:
        return OrganisationKind.CUSTOMER in self.kinds

    def get_kinds_display(self) -> str:
        labels = dict(OrganisationKind.choices)
        return ", ".join(str(labels.get(kind, kind)) for kind in self.kinds)


class AddressKind(models.TextChoices):
    REGISTERED = "registered", "Registered office"
    BILLING = "billing", "Billing"
    PICKUP = "pickup", "Pickup"
    DELIVERY = "delivery", "Delivery"
    WAREHOUSE = "warehouse", "Warehouse"


class Address(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="addresses")
    kind = models.CharField(max_length=20, choices=AddressKind.choices, default=AddressKind.REGISTERED)
    line1 = models.CharField("address line 1", max_length=200)
    line2 = models.CharField("address line 2", max_length=200, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    city = models.CharField(max_length=100)
    region = models.CharField(max_length=100, blank=True)
    country = models.CharField(
        max_length=2,
        validators=[RegexValidator(r"^[A-Z]{2}$", "Use the ISO 3166 two-letter country code, e.g. DE.")],
        help_text="ISO 3166-1 alpha-2.",
    )

    class Meta:
        verbose_name_plural = "addresses"
        ordering = ["organisation", "kind", "id"]

    def __str__(self) -> str:
        return ", ".join(part for part in (self.line1, self.postal_code, self.city, self.country) if part)


class Contact(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=150)
    role = models.CharField(max_length=100, blank=True, help_text="e.g. Logistics manager, Accounts payable.")
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["organisation", "name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    SALES = "sales", "Sales"
    OPERATIONS = "operations", "Operations"
    DOCUMENTATION = "documentation", "Documentation"
    FINANCE = "finance", "Finance"
    ADMIN = "admin", "Administrator"
    CUSTOMER = "customer", "Customer user"
    PARTNER = "partner", "Partner user"


STAFF_ROLES = frozenset({Role.SALES, Role.OPERATIONS, Role.DOCUMENTATION, Role.FINANCE, Role.ADMIN})


class Membership(models.Model):
    """A person's role in an organisation. Staff roles belong in our company or a branch; the
    customer role in a customer; the partner role in a carrier, agent or warehouse (PARTNER_KINDS)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organisation", "user", "role"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation", "role"], name="membership_unique_role"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} @ {self.organisation.code}"


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def active(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True, organisation__is_active=True)


class ApiKey(models.Model):
    """A secret that lets an external system act for an organisation, with that organisation's scope.

    The key is shown once when created; only its SHA-256 is stored (the key is 256 random bits, so a
    slow hash adds nothing). The visible prefix finds the row without scanning.
    """

    PREFIX = "oms"

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, help_text="What uses this key, e.g. 'ERP production'.")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(
        null=True, blank=True, help_text="Set to revoke the key; it stops working at once."
    )

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"
        ordering = ["organisation", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.PREFIX}_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def hash_secret(raw_key: str) -> str:
        return hashlib.sha256(raw_key.encode()).hexdigest()

    @classmethod
    def generate(cls) -> tuple[str, str, str]:
        """A new (raw key, prefix, hash)."""
        prefix = secrets.token_hex(6)
        raw_key = f"{cls.PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        return raw_key, prefix, cls.hash_secret(raw_key)

    def matches(self, raw_key: str) -> bool:
        return hmac.compare_digest(self.key_hash, self.hash_secret(raw_key))


class IdempotencyKeyStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"


class IdempotencyKey(models.Model):
    """One `Idempotency-Key` an API client sent, with the response to replay when it comes again.

    Keys are scoped to their owner, as Stripe scopes them per account: the API key, or the user for
    session requests (exactly one of the two is set). The unique constraint over (api_key, user, key)
    treats NULLs as equal, so it is what makes claiming a key atomic (partners/idempotency.py).
    """

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    user = models.ForeignKey(User, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and canonical JSON body.")
    status = models.CharField(max_length=12, choices=IdempotencyKeyStatus.choices)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    locked_at = models.DateTimeField(help_text="When the request now executing claimed the key.")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "user", "key"], nulls_distinct=False, name="idempotency_key_unique_per_owner"
            ),
            models.CheckConstraint(
                condition=models.Q(api_key__isnull=True) ^ models.Q(user__isnull=True),
                name="idempotency_key_has_one_owner",
            ),
        ]
        indexes = [models.Index(fields=["expires_at"], name="idempotency_key_expires")]

    def __str__(self) -> str:
        return f"{self.key} ({self.get_status_display()})"

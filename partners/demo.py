"""Demo organisations and logins (seed_demo). Idempotent: running it again changes nothing."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from partners import services
from partners.models import Address, Contact, Organisation, Role, User
from partners.models import OrganisationKind as K
from partners.roles import roles_sync


@dataclass(frozen=True)
class DemoOrg:
    code: str
    name: str
    legal_name: str
    kinds: tuple[str, ...]
    currency: str
    time_zone: str
    address: tuple[str, str, str, str]  # line1, postal code, city, country
    tax_id: str = ""
    parent: str = ""
    account_branch: str = ""


ORGANISATIONS = (
    DemoOrg(
        "OMS",
        "OMS Logistics",
        "OMS Logistics GmbH",
        (K.COMPANY,),
        "EUR",
        "Europe/Berlin",
        ("Am Sandtorkai 50", "20457", "Hamburg", "DE"),
        tax_id="DE811907980",
    ),
    DemoOrg(
        "HAM",
        "OMS Hamburg",
        "OMS Logistics GmbH, Hamburg branch",
        (K.BRANCH,),
        "EUR",
        "Europe/Berlin",
        ("Am Sandtorkai 50", "20457", "Hamburg", "DE"),
        parent="OMS",
    ),
    DemoOrg(
        "SHA",
        "OMS Shanghai",
        "OMS Logistics (Shanghai) Co., Ltd.",
        (K.BRANCH,),
        "CNY",
        "Asia/Shanghai",
        ("1717 West Nanjing Road", "200040", "Shanghai", "CN"),
        parent="OMS",
    ),
    DemoOrg(
        "ACME",
        "Acme Industrial",
        "Acme Industrial Supplies Ltd.",
        (K.CUSTOMER,),
        "EUR",
        "Europe/London",
        ("12 Wharf Street", "M1 2AB", "Manchester", "GB"),
        tax_id="GB123456789",
        account_branch="HAM",
    ),
    DemoOrg(
        "GLOBEX",
        "Globex Retail",
        "Globex Retail Corporation",
        (K.CUSTOMER,),
        "USD",
        "America/Chicago",
        ("400 W Madison St", "60606", "Chicago", "US"),
        tax_id="36-4567890",
        account_branch="SHA",
    ),
    DemoOrg(
        "MAEU",
        "Maersk",
        "A.P. Moller - Maersk A/S",
        (K.CARRIER, K.VENDOR),
        "USD",
        "Europe/Copenhagen",
        ("Esplanaden 50", "1098", "Copenhagen", "DK"),
    ),
    DemoOrg(
        "HLCU",
        "Hapag-Lloyd",
        "Hapag-Lloyd AG",
        (K.CARRIER, K.VENDOR),
        "EUR",
        "Europe/Berlin",
        ("Ballindamm 25", "20095", "Hamburg", "DE"),
    ),
    DemoOrg(
        "LHCARGO",
        "Lufthansa Cargo",
        "Lufthansa Cargo AG",
        (K.CARRIER, K.VENDOR),
        "EUR",
        "Europe/Berlin",
        ("Langer Kornweg 34", "65451", "Kelsterbach", "DE"),
    ),
    DemoOrg(
        "DHLX",
        "DHL Express",
        "DHL Express Germany GmbH",
        (K.CARRIER, K.VENDOR),
        "EUR",
        "Europe/Berlin",
        ("Heinrich-Brüning-Str. 5", "53113", "Bonn", "DE"),
    ),
    DemoOrg(
        "NORDTRUCK",
        "Nordtruck Spedition",
        "Nordtruck Spedition GmbH",
        (K.CARRIER, K.VENDOR),
        "EUR",
        "Europe/Berlin",
        ("Billstraße 80", "20539", "Hamburg", "DE"),
    ),
    DemoOrg(
        "USAGENT",
        "Lakeshore Freight Agents",
        "Lakeshore Freight Agents LLC",
        (K.AGENT, K.VENDOR),
        "USD",
        "America/Chicago",
        ("2300 S Archer Ave", "60616", "Chicago", "US"),
    ),
    DemoOrg(
        "HAMWH",
        "Elbe Warehousing",
        "Elbe Warehousing & Distribution GmbH",
        (K.WAREHOUSE, K.VENDOR),
        "EUR",
        "Europe/Berlin",
        ("Hovestraße 30", "20539", "Hamburg", "DE"),
    ),
)

# email, full name, organisation, roles
LOGINS = (
    ("admin@oms.example", "Ada Admin", "OMS", (Role.ADMIN,)),
    ("sales@oms.example", "Sam Sales", "HAM", (Role.SALES,)),
    ("ops@oms.example", "Olga Operations", "HAM", (Role.OPERATIONS,)),
    ("docs@oms.example", "Dan Documentation", "HAM", (Role.DOCUMENTATION,)),
    ("finance@oms.example", "Fiona Finance", "HAM", (Role.FINANCE,)),
    ("ops.sha@oms.example", "Li Wei", "SHA", (Role.OPERATIONS,)),
    ("portal@acme.example", "Alice Acme", "ACME", (Role.CUSTOMER,)),
    ("portal@globex.example", "Gary Globex", "GLOBEX", (Role.CUSTOMER,)),
    ("carrier@oms.example", "Carl Carrier", "NORDTRUCK", (Role.PARTNER,)),
)


@transaction.atomic
def seed_partners(*, password: str) -> dict[str, Organisation]:
    roles_sync()
    organisations: dict[str, Organisation] = {}
    for demo in ORGANISATIONS:
        organisation, created = Organisation.objects.get_or_create(
            code=demo.code,
            defaults={
                "name": demo.name,
                "legal_name": demo.legal_name,
                "kinds": list(demo.kinds),
                "default_currency": demo.currency,
                "time_zone": demo.time_zone,
                "tax_id": demo.tax_id,
                "parent": organisations.get(demo.parent),
                "account_branch": organisations.get(demo.account_branch),
                "email": f"contact@{demo.code.lower()}.example",
            },
        )
        if created:
            line1, postal_code, city, country = demo.address
            Address.objects.create(
                organisation=organisation, line1=line1, postal_code=postal_code, city=city, country=country
            )
            Contact.objects.create(
                organisation=organisation,
                name=f"{demo.name} logistics desk",
                role="Logistics",
                email=f"logistics@{demo.code.lower()}.example",
            )
        organisations[demo.code] = organisation

    for email, full_name, code, roles in LOGINS:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(
                email=email,
                password=password,
                full_name=full_name,
                # Finance maintains the tariffs and exchange rates, which live in the console.
                is_staff=Role.ADMIN in roles or Role.FINANCE in roles,
                is_superuser=Role.ADMIN in roles,
            )
        for role in roles:
            services.membership_grant(user=user, organisation=organisations[code], role=role)
    return organisations

"""Raw code → canonical milestone and classifier, by the rules operations keep in the admin.

The rules and milestones are read into memory and kept for MAPPING_CACHE_SECONDS (a batch of a thousand
events must not cost a query per event); saving a rule or milestone in the admin clears this process's
copy at once, other processes pick the change up within that time, and "re-map stored events" applies a
new rule to everything already received.

Lookup order, most specific first: the partner's own rule for this location role, the partner's rule for
anywhere, the generic rule for this role, the generic rule. When nothing matches, a composite code loses its
last part and is tried again (X12 `K1:AS` → `K1`, DCSA `EQUIPMENT:RSEA:EMPTY` → `EQUIPMENT:RSEA`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from tracking.ingest.models import MappingRule, MappingStatus, Milestone

MAPPING_CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class MilestoneInfo:
    code: str
    name: str
    rank: int
    order_status: str
    is_exception: bool
    is_customer_visible: bool
    modes: tuple[str, ...] = ()  # empty: every mode

    def applies_to(self, mode: str) -> bool:
        return not self.modes or mode in self.modes


@dataclass(frozen=True)
class Mapping:
    status: str  # MappingStatus
    milestone: str | None
    classifier: str  # "" means: as the event says


UNMAPPED = Mapping(MappingStatus.UNMAPPED, None, "")

RuleKey = tuple[str, str]  # (scheme, code)
RuleVariant = tuple[int | None, str]  # (partner id, location role)


@dataclass(frozen=True)
class MappingTable:
    rules: dict[RuleKey, dict[RuleVariant, Mapping]]
    milestones: dict[str, MilestoneInfo]

    def lookup(self, *, scheme: str, code: str, partner_id: int | None = None, role: str = "") -> Mapping:
        """The mapping for a raw code; UNMAPPED when no rule knows it."""
        candidate = code.upper()
        while candidate:
            variants = self.rules.get((scheme, candidate))
            if variants:
                for variant in ((partner_id, role), (partner_id, ""), (None, role), (None, "")):
                    found = variants.get(variant)
                    if found is not None:
                        return found
            candidate = candidate.rpartition(":")[0]
        return UNMAPPED

    def rank(self, code: str | None) -> int:
        info = self.milestones.get(code or "")
        return info.rank if info else 0

    def order_status(self, code: str | None) -> str:
        info = self.milestones.get(code or "")
        return info.order_status if info else ""


def _load() -> MappingTable:
    milestones = {
        m.code: MilestoneInfo(
            m.code, m.name, m.rank, m.order_status, m.is_exception, m.is_customer_visible, tuple(m.modes)
        )
        for m in Milestone.objects.filter(is_active=True)
    }
    rules: dict[RuleKey, dict[RuleVariant, Mapping]] = {}
    for rule in MappingRule.objects.filter(is_active=True).only(
        "scheme", "code", "partner_id", "location_role", "milestone_id", "classifier"
    ):
        if rule.milestone_id is not None and rule.milestone_id not in milestones:
            continue  # the milestone was switched off: the rule maps to nothing until it is back
        status = MappingStatus.MAPPED if rule.milestone_id else MappingStatus.NOT_A_MILESTONE
        variant = (rule.partner_id, rule.location_role)
        rules.setdefault((rule.scheme, rule.code), {})[variant] = Mapping(status, rule.milestone_id, rule.classifier)
    return MappingTable(rules=rules, milestones=milestones)


_cache: tuple[float, MappingTable] | None = None


def table() -> MappingTable:
    """The current rules (cached for MAPPING_CACHE_SECONDS)."""
    global _cache
    now = time.monotonic()
    if _cache is None or now - _cache[0] > MAPPING_CACHE_SECONDS:
        _cache = (now, _load())
    return _cache[1]


def invalidate() -> None:
    """Forget the cached rules: the next lookup reads them again (admin saves call this)."""
    global _cache
    _cache = None

"""Carrier events from every source on one timeline (issue 7).

Events come in by polling (DCSA Track & Trace, Karrio), signed webhooks, file uploads, manual entry and
the simulated demo carrier. Every one is stored raw, then mapped to a canonical milestone (DOMAIN.md §1.7,
with the mapping rules of §1.8 kept as data), linked to its shipment, leg and order, and allowed to move
the order forward through the lifecycle's transition function only.

    formats.py     raw dicts (DCSA, OMS JSON, Karrio) → IncomingEvent
    subjects.py    references (container, B/L, booking, AWB, parcel, shipment, order) → shipments and orders
    mapping.py     (scheme, code, partner, location role) → milestone and classifier
    services.py    the one write path: ingest a batch (dedupe, map, store), with checks.py (what can be stored),
                   identity.py (the dedupe keys) and placing.py (role, leg, who may record it)
    recording.py   single events by hand (order page, planning screen, file row), through the same path
    following.py   what stored events change: legs, shipment and order status (estimates.py: ETA history)
    webhooks.py    signed webhook deliveries; files.py milestone files; polling.py carrier polling
    selectors.py   the timeline, for staff and customer-safe
"""

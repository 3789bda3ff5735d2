"""Every write about exceptions, by sub-domain:

- detection: the rules over a batch of shipments (open, resolve, bring up to date) and the full scan
- announcing: telling higher apps, once each, that an exception opened, that the orders on its shipment changed,
  that it resolved (tracking.events), and queueing that work after the commit
- customer_emails: each customer's email of an exception, claimed once, and the sweep of those not sent
- handling: what people do (acknowledge, note, resolve, take ownership)
"""

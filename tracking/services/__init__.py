"""Every write of planning, by sub-domain: planning.py (houses, legs, containers, appointments, actuals),
consolidation.py (houses on masters, capacity, deconsolidation), ranking.py (carrier options and
pick_best) and booking.py (requests to carriers and their answers)."""

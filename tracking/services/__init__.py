"""Every write of planning, by sub-domain: planning.py (houses, legs, containers, appointments, actuals),
consolidation.py (houses on masters, capacity, deconsolidation), ranking.py (carrier options and
pick_best), booking.py (requests to carriers and their answers) and booking_orders.py (the master's orders a
booking plans and unplans)."""

"""How OMS writes dates and times where a template or the admin console does not say (settings.FORMAT_MODULE_PATH).

Django's British English formats write times as "9:19 p.m."; an operations team reads a 24-hour clock, and the
screens that name their own formats use "6 Dec 2026, 21:19" already. Day-first everywhere, the month as a word
so that 06/12 is never read as June. Tables that align times in a column say "d M H:i" themselves.
"""

DATE_FORMAT = "j M Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j M Y, H:i"
MONTH_DAY_FORMAT = "j F"
YEAR_MONTH_FORMAT = "F Y"
SHORT_DATE_FORMAT = "d/m/Y"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"

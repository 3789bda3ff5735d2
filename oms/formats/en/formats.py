"""How OMS writes dates and times where a template or the admin console does not say (settings.FORMAT_MODULE_PATH).

Django's British English formats write times as "9:19 p.m."; an operations team reads a 24-hour clock, and the
screens use "6 Dec 2026, 21:19". Day-first everywhere, the month as a word so that 06/12 is never read as June.
OMS's own screens write dates with the oms_dates filters (`oms_date`, `oms_datetime`: the year only when it is not
this year; docs/architecture.md, "Dates and times on screens"); these formats are for the console and for any
`{{ value }}` or `date` filter without a format of its own.
"""

DATE_FORMAT = "j M Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j M Y, H:i"
MONTH_DAY_FORMAT = "j F"
YEAR_MONTH_FORMAT = "F Y"
SHORT_DATE_FORMAT = "d/m/Y"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"

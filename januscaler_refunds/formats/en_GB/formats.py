"""One date and time format across the console (Django's locale default mixes "7:45 p.m." and
"19:31"): 24-hour times, day-month-year dates, in the company's zone (settings.TIME_ZONE)."""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
TIME_FORMAT = "H:i"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
MONTH_DAY_FORMAT = "j F"
YEAR_MONTH_FORMAT = "F Y"

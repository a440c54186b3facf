"""Matomo's `period` and `date` parameters as the API reads them, for every module (reports, MultiSites)."""
import re
from datetime import date

from analytics.api.errors import ApiError
from analytics.api.params import Params
from analytics.reports.periods import Period, PeriodError, periods_for

_MULTI_DATE = re.compile(r"^(last|previous)(\d+)$", re.IGNORECASE)
MAX_PERIODS = 366
FIRST_DATE = date(1991, 8, 6)  # as Matomo: no web analytics before the first web site


def periods_asked(params: Params, *, today: date) -> tuple[list[Period], bool]:
    """The periods asked for, oldest first, and whether the answer is keyed by date (lastN / previousN).

    `today` is the caller's today (a site's, or the farm's for farm-wide methods). Raises ApiError
    with a message for a missing, malformed or out-of-range period or date."""
    period = params.required("period", "one of day, week, month, year, range")
    value = params.required("date", "YYYY-MM-DD, today, yesterday, lastN, previousN, or START,END with period=range")
    multi = _MULTI_DATE.match(value.strip())
    if multi and int(multi.group(2)) > MAX_PERIODS:
        raise ApiError(f"date={value[:20]}: at most {MAX_PERIODS} periods in one call")
    try:
        periods = periods_for(period, value, today=today)
    except PeriodError as error:
        raise ApiError(str(error)) from None
    except OverflowError:
        raise ApiError(f"date={value[:30]} is out of range for period={period[:10]}") from None
    if periods[0].start < FIRST_DATE:
        raise ApiError(f"date={value[:30]} reaches before {FIRST_DATE}, the first date Matomo accepts")
    return periods, bool(multi) and period != "range"

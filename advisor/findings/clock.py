"""The advisor's notion of "today", in one patchable place.

Date-dependent rules (retirement dates, waiver expiry) read it; tests replace `today` to freeze it.
"""

import datetime as dt

from django.utils import timezone


def today() -> dt.date:
    return timezone.localdate()

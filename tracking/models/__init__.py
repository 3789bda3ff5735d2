"""The tracking app's models. Django loads an app's models from this package; everyone imports them from here.

- `shipments`: shipments (houses and masters), their lines, consolidation links, legs and containers;
- `carriers`: what we know about carriers (services per lane, our preferences, their on-time record);
- `bookings`: bookings of space with a carrier, and pickup and delivery appointments;
- exceptions (tracking/exceptions/models.py) and tracking events with their mapping (tracking/ingest/models.py)
  live beside the code that works on them.
"""

from tracking.exceptions.models import *  # noqa: F403
from tracking.ingest.models import *  # noqa: F403
from tracking.models.bookings import *  # noqa: F403
from tracking.models.carriers import *  # noqa: F403
from tracking.models.shipments import *  # noqa: F403

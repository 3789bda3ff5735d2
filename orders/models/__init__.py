"""The orders app's models. Django loads an app's models from this package; everyone imports them from here.

- `locations`: the places orders move between;
- `orders`: the order, its cargo lines and equipment, its transitions, the transitions queued for the workflow, and
  their history (django-pghistory's OrderEvent, CargoLineEvent, EquipmentEvent);
- `imports`: order files, their rows' errors and the orders they made;
- `integrations`: eCommerce and partner systems that send orders by webhook, and their deliveries.
"""

from orders.models.imports import *  # noqa: F403
from orders.models.integrations import *  # noqa: F403
from orders.models.locations import *  # noqa: F403
from orders.models.orders import *  # noqa: F403

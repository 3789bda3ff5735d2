"""Loaded by the import kill tests' worker (CELERY_IMPORTS). Each pool child kills itself with SIGKILL in the
middle of an import, once the orders are written and before they are committed, as long as the file named by
OMS_TEST_DEATHS holds a number above zero (one death each). Nothing of the kind is in the product's code."""

import os
import signal
from pathlib import Path

from celery.signals import worker_process_init


@worker_process_init.connect
def _die_in_the_middle_of_imports(**_kwargs) -> None:
    from orders import bulk

    written = bulk.orders_bulk_create

    def written_then_killed(*args, **kwargs):
        outcome = written(*args, **kwargs)
        deaths = Path(os.environ["OMS_TEST_DEATHS"])
        left = int(deaths.read_text())
        if left > 0:
            deaths.write_text(str(left - 1))
            os.kill(os.getpid(), signal.SIGKILL)
        return outcome

    bulk.orders_bulk_create = written_then_killed

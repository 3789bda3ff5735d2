"""Loaded by the kill tests' workers (CELERY_IMPORTS in tests.worker_deaths_settings). Each pool child wraps the
function OMS_TEST_DIE_IN names ("module:attribute"): after its OMS_TEST_DIE_AFTER-th call (default 1) returns,
the child kills itself with SIGKILL, as long as the file OMS_TEST_DEATHS holds a number above zero (one death
each, counted down across children). Nothing of the kind is in the product's code."""

import importlib
import os
import signal
from pathlib import Path

from celery.signals import worker_process_init


@worker_process_init.connect
def _die_in_the_middle(**_kwargs) -> None:
    module_name, attribute = os.environ["OMS_TEST_DIE_IN"].split(":")
    module = importlib.import_module(module_name)
    wrapped = getattr(module, attribute)
    after = int(os.environ.get("OMS_TEST_DIE_AFTER", "1"))
    calls = 0

    def then_killed(*args, **kwargs):
        nonlocal calls
        result = wrapped(*args, **kwargs)
        calls += 1
        deaths = Path(os.environ["OMS_TEST_DEATHS"])
        left = int(deaths.read_text())
        if calls >= after and left > 0:
            deaths.write_text(str(left - 1))
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(module, attribute, then_killed)

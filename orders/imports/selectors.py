"""Reads of import jobs that screens and the API share, already scoped: staff see every job, a customer
only the jobs uploaded for it (404 for the others), partners none."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from orders import lifecycle
from orders.models import ImportedOrder, ImportJob
from partners.scoping import Scope


def import_job_list_for(*, scope: Scope) -> QuerySet[ImportJob]:
    """The jobs the scope may see, newest first."""
    jobs = ImportJob.objects.select_related("created_by", "customer", "api_key").order_by("-created_at")
    return scope.restrict(jobs, customer="customer_id")


def import_job_get_for(*, scope: Scope, pk: Any) -> ImportJob:
    job = import_job_list_for(scope=scope).filter(pk=pk).first()
    if job is None:
        raise Http404("No such import.")
    return job


def import_job_created_orders(*, job: ImportJob, limit: int = 50) -> QuerySet[ImportedOrder]:
    return job.imported.select_related("order__customer").order_by("row")[:limit]


def may_import(scope: Scope) -> bool:
    """Importing creates submitted orders: whoever may submit an order may upload a file."""
    spec = lifecycle.TRANSITIONS["submit"]
    if scope.is_staff:
        return scope.has_role(*spec.roles)
    return scope.is_customer

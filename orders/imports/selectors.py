"""Reads of import jobs that screens and the API share, already scoped: staff see every job, a customer
only the jobs uploaded for it (404 for the others), partners none."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import QuerySet, Subquery
from django.http import Http404

from orders import lifecycle
from orders.models import ImportedOrder, ImportJob
from partners.models import Organisation
from partners.scoping import Scope
from partners.time_zones import zone_named

VIEWER_ZONE = "viewer_time_zone"  # the annotation `with_viewer_zone` adds to each job


def _viewer_zone_name(scope: Scope) -> Subquery:
    """The name of the viewer's clock, as a sub-select: staff read on their own branch's (the first by id, as
    partners.time_zones.viewer_zone does; NULL for company-wide staff: the server's), a customer on its own
    organisation's (`Organisation.time_zone`)."""
    organisations = Organisation.objects.filter(pk__in=sorted(scope.organisation_ids))
    if not scope.is_customer:
        organisations = organisations.branches()
    return Subquery(organisations.order_by("pk").values("time_zone")[:1])


def import_job_list_for(*, scope: Scope, with_viewer_zone: bool = False) -> QuerySet[ImportJob]:
    """The jobs the scope may see, newest first. `with_viewer_zone`: each also carries the name of the viewer's
    clock (read it with `viewer_zone`), which the screens show its times on: the job's own query reads it, so the
    page polled every second while a job runs pays no query for it."""
    jobs = ImportJob.objects.select_related("created_by", "customer", "api_key").order_by("-created_at")
    if with_viewer_zone:
        jobs = jobs.annotate(**{VIEWER_ZONE: _viewer_zone_name(scope)})
    return scope.restrict(jobs, customer="customer_id")


def import_job_get_for(*, scope: Scope, pk: Any, with_viewer_zone: bool = False) -> ImportJob:
    job = import_job_list_for(scope=scope, with_viewer_zone=with_viewer_zone).filter(pk=pk).first()
    if job is None:
        raise Http404("No such import.")
    return job


def viewer_zone(job: ImportJob | None) -> datetime.tzinfo:
    """The viewer's clock a job was read with (`with_viewer_zone`); the server's zone for none."""
    return zone_named(getattr(job, VIEWER_ZONE, None))


def import_job_created_orders(*, job: ImportJob, limit: int = 50) -> QuerySet[ImportedOrder]:
    return job.imported.select_related("order__customer").order_by("row")[:limit]


def may_import(scope: Scope) -> bool:
    """Importing creates submitted orders: whoever may submit an order may upload a file."""
    spec = lifecycle.TRANSITIONS["submit"]
    if scope.is_staff:
        return scope.has_role(*spec.roles)
    return scope.is_customer

"""Rate card screens (read-only; cards are maintained in the configuration console)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from finance import selectors
from finance.models import RateDirection
from orders.models import Mode
from partners.permissions import staff_required

# Every issue of every contract stays on file (bookings pin them), so the list only grows: it pages.
PAGE_SIZE = 50


@staff_required
def rate_card_list(request: HttpRequest) -> HttpResponse:
    mode = request.GET.get("mode", "") if request.GET.get("mode", "") in Mode.values else ""
    page = Paginator(selectors.rate_card_list(mode=mode), PAGE_SIZE).get_page(request.GET.get("page"))
    # Rows show Buy or Sell; what each means is said once, in the column's legend.
    directions = [(direction.short_label, direction.explanation) for direction in RateDirection]
    context = {"page": page, "mode": mode, "modes": Mode.choices, "directions": directions}
    return render(request, "finance/rate_card_list.html", context)


@staff_required
def rate_card_detail(request: HttpRequest, pk: int) -> HttpResponse:
    card = selectors.rate_card_get(pk=pk)
    conversion = selectors.rate_card_conversion(card=card, on=timezone.localdate())
    return render(request, "finance/rate_card_detail.html", {"card": card, "conversion": conversion})

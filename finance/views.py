"""Rate card screens (read-only; cards are maintained in the configuration console)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from finance import selectors
from orders.models import Mode
from partners.permissions import staff_required


@staff_required
def rate_card_list(request: HttpRequest) -> HttpResponse:
    mode = request.GET.get("mode", "") if request.GET.get("mode", "") in Mode.values else ""
    cards = selectors.rate_card_list(mode=mode)
    return render(request, "finance/rate_card_list.html", {"cards": cards, "mode": mode, "modes": Mode.choices})


@staff_required
def rate_card_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "finance/rate_card_detail.html", {"card": selectors.rate_card_get(pk=pk)})

"""The overview (home page): the registry's counts and instances with their last scan, with the
findings, charts and review notices each bringing their own data (templates/partials/home_extra.html).

It lives here, above the registry and the scans, because it shows both.
"""

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import render

from advisor.registry.models import Instance, Namespace, Team
from advisor.scans.selectors import with_last_scan


@login_required
def home(request):
    context = {
        "counts": {
            "teams": Team.objects.count(),
            "instances": Instance.objects.count(),
            "namespaces": Namespace.objects.count(),
        },
        "instances": with_last_scan(Instance.objects.annotate(ns_count=Count("namespaces")).order_by("name")),
        "my_teams": request.user.teams.all(),
    }
    # The template kept its place among the registry's when the view moved here.
    return render(request, "registry/home.html", context)

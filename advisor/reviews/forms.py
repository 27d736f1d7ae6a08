from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from advisor.core.findings import Finding
from advisor.registry.models import WAIVER_MAX_DAYS

from .waivers import WaiverAsk


class SubmitForm(forms.Form):
    """The submission, with an optional waiver request for each blocking finding.

    Leaving a request empty is allowed here; the service then refuses the submission and says
    which findings are still open, so the rule lives in one place.
    """

    def __init__(self, *args, blocking: list[Finding], earlier: dict | None = None, **kwargs):
        """`earlier`: the waiver requests of the revision being resubmitted, by "RULE|target";
        their reason and (still future) expiry fill the fields they match."""
        super().__init__(*args, **kwargs)
        self.blocking = blocking
        self.earlier = earlier or {}
        today = timezone.localdate()
        default_expiry = today + dt.timedelta(days=90)
        for i, f in enumerate(blocking):
            before = self.earlier.get(f"{f.rule}|{f.target}")
            self.fields[f"reason_{i}"] = forms.CharField(
                label=f"Reason to waive {f.rule} on {f.target}",
                required=False,
                initial=before.reason if before else "",
                widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
            )
            self.fields[f"expires_{i}"] = forms.DateField(
                label="Waiver expires",
                required=False,
                initial=before.expires if before and before.expires > today else default_expiry,
                widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}),
            )

    def rows(self):
        for i, f in enumerate(self.blocking):
            yield f, self[f"reason_{i}"], self[f"expires_{i}"], self.earlier.get(f"{f.rule}|{f.target}")

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        for i in range(len(self.blocking)):
            reason = (data.get(f"reason_{i}") or "").strip()
            expires = data.get(f"expires_{i}")
            if reason and not expires:
                self.add_error(f"expires_{i}", "A waiver needs an expiry date.")
            elif reason and expires <= today:
                self.add_error(f"expires_{i}", "The expiry must be in the future.")
            elif reason and expires > today + dt.timedelta(days=WAIVER_MAX_DAYS):
                self.add_error(f"expires_{i}", f"At most {WAIVER_MAX_DAYS} days ahead.")
        return data

    def waiver_asks(self) -> list[WaiverAsk]:
        asks = []
        for i, f in enumerate(self.blocking):
            reason = (self.cleaned_data.get(f"reason_{i}") or "").strip()
            if reason:
                asks.append(WaiverAsk(f.rule, f.target, reason, self.cleaned_data[f"expires_{i}"]))
        return asks


class CommentForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}), max_length=5000)
    finding_rule = forms.CharField(required=False, widget=forms.HiddenInput, max_length=6)
    finding_target = forms.CharField(required=False, widget=forms.HiddenInput, max_length=80)


class DecisionForm(forms.Form):
    expected_hash = forms.CharField(widget=forms.HiddenInput, max_length=64)
    comment = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}), max_length=5000
    )
    reject_waivers = forms.TypedMultipleChoiceField(coerce=int, required=False)

    def __init__(self, *args, review=None, **kwargs):
        super().__init__(*args, **kwargs)
        if review is not None:
            self.fields["reject_waivers"].choices = [(wr.pk, wr.pk) for wr in review.waiver_requests.all()]

"""Team notifications: e-mail, Slack, Microsoft Teams and signed JSON webhooks, sent by Celery.

How events reach this app: the apps below it define Django signals in their own modules
(advisor.scans.signals.scan_finished, advisor.reviews.signals.review_event) and send them; this
app connects its receivers in NotificationsConfig.ready. Signals, not a hook registry, because
Django already gives what a hook would have to rebuild: any number of listeners, `send_robust`
so that a listener's failure never fails a scan or a review, and no import of this app from
scans, reviews or the registry, which stay below it (they import nothing of it, it imports them).

Modules, in the order a reader follows an event:
    events    the event kinds and the Event every channel renders
    sources   scans, reviews and the daily jobs turned into events, and the teams concerned
    services  channel writes (atomic, audited), dispatch (queued deliveries, tasks on commit),
              one delivery attempt
    targets   the webhook allowlist, e-mail addresses, secret references
    formats   Slack, Teams, JSON and e-mail renderings
    delivery  the request or e-mail, its HMAC signature, and transient vs permanent failures
    tasks     the Celery tasks (one attempt with backoff, the daily jobs)
    views     the team's notifications page, channel forms, "Send test"
"""

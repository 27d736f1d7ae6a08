"""What the reviews app tells apps above it, without knowing them (advisor.notifications listens).

Apps may import reviews, never the other way round: a listener connects to this signal in its
AppConfig.ready. It is sent once the change has committed (`notify.announce`), with `send_robust`,
so a listener never sees a rolled-back decision and never fails one.
"""

from django.dispatch import Signal

# sender=Review, review=<the Review, as committed>, event="submitted" | "changes_requested" |
# "approved", actor=<the user who acted>, comment=<the reviewer's comment, "" when none>
review_event = Signal()

"""What the scans app tells apps above it, without knowing them (advisor.notifications listens).

Apps may import scans, never the other way round: a listener connects to these signals in its
AppConfig.ready. They are sent with `send_robust`, so a listener that fails is logged and never
fails or undoes the scan.
"""

from django.dispatch import Signal

# Sent once when a run has ended completed or failed (not cancelled), after its final state is
# stored: sender=ScanRun, run=<the ScanRun, as stored>.
scan_finished = Signal()

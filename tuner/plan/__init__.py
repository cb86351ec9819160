"""``celery-tune plan``: size a fleet from measurements (USL fit + discrete-event simulation)."""

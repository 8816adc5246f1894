"""Signals the unlearning stage sends to the stages after it (which connect to them; this app never
imports them).

`candidate_registered(sender=ModelVersion, version_id=int)`: a job registered a candidate version and
its requests are `verifying`. Sent after the commit, and sent again by the reconciler while the
candidate waits (PALIMPSEST_UNLEARN_VERIFICATION_RESEND_SECONDS), so a receiver must be idempotent:
start verification by a compare-and-set, not blindly.
"""

from django.dispatch import Signal

candidate_registered = Signal()

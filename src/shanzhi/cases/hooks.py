"""What other apps may hear of every case, without the case types importing
them (analytics keeps its rollups from these). Each is sent with the case's
model as ``sender``, inside the transaction of the change: a receiver's
writes roll back with it.

- ``created(case)``: a case was created.
- ``changing(case, updates)``: a compare-and-set update is about to write
  ``updates`` (field → value or ``F`` expression) to the case as read.
- ``lights_changed(case, before, after)``: the sweep changed the (warned,
  overdue) flags of an open case.
- ``sweeping(now)``: ``shanzhi worker`` is about to sweep. Apps plan the
  cases that time brings (the registry's follow-up visits); a receiver
  returns a dict of counts (what it did) or None. Sent with ``send_robust``:
  a failing receiver is logged and the sweep goes on.
"""

from django.dispatch import Signal

created = Signal(use_caching=True)
changing = Signal(use_caching=True)
lights_changed = Signal(use_caching=True)
sweeping = Signal()

"""Delivery: the ledger (exactly once per reader), the send loop, recovery after crashes and
deliberate resends, and read-only queries about it all."""

from pipeline.delivery.ledger import ClaimedDelivery, LostClaim, SendPolicy, claim_batch
from pipeline.delivery.recovery import reconcile_unknown, release_stale_claims, request_resend
from pipeline.delivery.sending import Composed, Composer, SendReport, finish_if_done, send_edition

__all__ = [
    "ClaimedDelivery",
    "Composed",
    "Composer",
    "LostClaim",
    "SendPolicy",
    "SendReport",
    "claim_batch",
    "finish_if_done",
    "reconcile_unknown",
    "release_stale_claims",
    "request_resend",
    "send_edition",
]

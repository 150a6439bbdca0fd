"""Readers: addresses, the subscription life cycle and its consent record, preferences, signed
links, CSV import/export and the double opt-in mail."""

from pipeline.readers.addresses import AddressError, normalize_address, smtp_address
from pipeline.readers.confirmation import Confirmations
from pipeline.readers.csv_io import export_rows, import_csv
from pipeline.readers.lifecycle import (
    Consent,
    SubscribeState,
    SubscriptionError,
    confirm,
    find,
    subscribe,
    unsubscribe,
)
from pipeline.readers.links import LinkMaker, Signer, TokenError
from pipeline.readers.preferences import PreferenceError, Preferences
from pipeline.readers.suppressions import is_suppressed, lift, list_suppressions, suppress

__all__ = [
    "AddressError",
    "Confirmations",
    "Consent",
    "LinkMaker",
    "PreferenceError",
    "Preferences",
    "Signer",
    "SubscribeState",
    "SubscriptionError",
    "TokenError",
    "confirm",
    "export_rows",
    "find",
    "import_csv",
    "is_suppressed",
    "lift",
    "list_suppressions",
    "normalize_address",
    "smtp_address",
    "subscribe",
    "suppress",
    "unsubscribe",
]

"""Every table of the system of record. Importing this module registers them all on
``Base.metadata`` (Alembic and the merge logic rely on that)."""

from siyu.store.models.base import Base, utcnow
from siyu.store.models.channels import CHANNEL_KINDS, Channel, EntryCode, Source, Touch
from siyu.store.models.compliance import AuditEntry, ConsentRecord
from siyu.store.models.contacts import Contact, ContactAttribute, ContactMerge, Identity
from siyu.store.models.events import EVENT_COLUMNS, Event
from siyu.store.models.jobs import ImportJob

__all__ = [
    "CHANNEL_KINDS",
    "EVENT_COLUMNS",
    "AuditEntry",
    "Base",
    "Channel",
    "ConsentRecord",
    "Contact",
    "ContactAttribute",
    "ContactMerge",
    "EntryCode",
    "Event",
    "Identity",
    "ImportJob",
    "Source",
    "Touch",
    "utcnow",
]

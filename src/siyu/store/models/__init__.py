"""Every table of the system of record. Importing this module registers them all on
``Base.metadata`` (Alembic and the merge logic rely on that)."""

from siyu.store.models.analytics import ChannelSpend, ContactScore
from siyu.store.models.auth import ApiKey, LoginFailure, User, UserSession
from siyu.store.models.base import Base, utcnow
from siyu.store.models.channels import CHANNEL_KINDS, Channel, EntryCode, Source, Touch
from siyu.store.models.community import CommunityRole, GroupMessageSend, GroupSop, GroupSopRun
from siyu.store.models.compliance import AuditEntry, ConsentRecord, WarehouseRemoval
from siyu.store.models.contacts import Contact, ContactAttribute, ContactMerge, Identity
from siyu.store.models.content import ChannelProvider, ContentTemplate, Material, MaterialFile, ShortLink
from siyu.store.models.events import EVENT_COLUMNS, SYSTEM_EVENTS, Event, EventDefinition
from siyu.store.models.jobs import ImportJob
from siyu.store.models.journeys import (
    Journey,
    JourneyEnrolment,
    JourneyStepRun,
    JourneyVersion,
    OutboxMessage,
)
from siyu.store.models.layers import (
    ContactChange,
    ContactRfm,
    ContactStage,
    ContactTag,
    Segment,
    SegmentMember,
    SegmentVersion,
    Setting,
    StageChange,
    Tag,
    TagChange,
    TagGroup,
    TagRule,
)
from siyu.store.models.privacy import DoNotContact, PrivacyDeletion, WarehouseErasure
from siyu.store.models.wecom import (
    ContactFollow,
    CustomerGroup,
    GroupDailyStat,
    GroupJoinWay,
    GroupJoinWayChange,
    GroupMember,
    WeComStaff,
)
from siyu.store.models.wecom_inflow import WeComCallback, WeComCorpTag
from siyu.store.models.wecom_ways import WeComSyncRun, WeComTransfer

__all__ = [
    "CHANNEL_KINDS",
    "EVENT_COLUMNS",
    "SYSTEM_EVENTS",
    "ApiKey",
    "AuditEntry",
    "Base",
    "Channel",
    "ChannelProvider",
    "ChannelSpend",
    "CommunityRole",
    "ConsentRecord",
    "Contact",
    "ContactAttribute",
    "ContactChange",
    "ContactFollow",
    "ContactMerge",
    "ContactRfm",
    "ContactScore",
    "ContactStage",
    "ContactTag",
    "ContentTemplate",
    "CustomerGroup",
    "DoNotContact",
    "EntryCode",
    "Event",
    "EventDefinition",
    "GroupDailyStat",
    "GroupJoinWay",
    "GroupJoinWayChange",
    "GroupMember",
    "GroupMessageSend",
    "GroupSop",
    "GroupSopRun",
    "Identity",
    "ImportJob",
    "Journey",
    "JourneyEnrolment",
    "JourneyStepRun",
    "JourneyVersion",
    "LoginFailure",
    "Material",
    "MaterialFile",
    "OutboxMessage",
    "PrivacyDeletion",
    "Segment",
    "SegmentMember",
    "SegmentVersion",
    "Setting",
    "ShortLink",
    "Source",
    "StageChange",
    "Tag",
    "TagChange",
    "TagGroup",
    "TagRule",
    "Touch",
    "User",
    "UserSession",
    "WarehouseErasure",
    "WarehouseRemoval",
    "WeComCallback",
    "WeComCorpTag",
    "WeComStaff",
    "WeComSyncRun",
    "WeComTransfer",
    "utcnow",
]

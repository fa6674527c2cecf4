"""Inputs and outputs of analyses kept in the system of record: channel spend (imported from the
ad platforms' CSV exports, the cost side of channel economics) and per-contact scores (churn
risk), which segments read through the warehouse mirror like RFM scores.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Index, Numeric, String, func
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.models.base import Base, BigId, UTCDateTime, utcnow


class ChannelSpend(Base):
    """Money spent on a channel (optionally one campaign) over a period, both days inclusive.

    ``channel`` is the channel's key as resolved at import (a file may name the channel by key
    or by name; both land on the same row), kept as text so a row survives a channel being
    renamed. One row per (channel, campaign, period): re-importing the same file updates the
    rows instead of counting the spend twice. The unique index reads a missing campaign as ''
    because SQL unique constraints treat NULLs as distinct.
    """

    __tablename__ = "channel_spend"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"), nullable=True, index=True)
    channel: Mapped[str] = mapped_column(String(64))
    campaign: Mapped[str | None] = mapped_column(String(200), nullable=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    impressions: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    clicks: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: The file (or other source) the row came from, for "where does this number come from?".
    source: Mapped[str] = mapped_column(String(200), default="")
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


Index(
    "uq_channel_spend_period",
    ChannelSpend.channel,
    func.coalesce(ChannelSpend.campaign, ""),
    ChannelSpend.period_start,
    ChannelSpend.period_end,
    unique=True,
)


class ContactScore(Base):
    """A contact's latest model scores. ``model`` labels the model and its settings, so a score
    can be traced to what produced it; ``computed_at`` is when the scoring run wrote it."""

    __tablename__ = "contact_scores"
    __table_args__ = ({"info": {"merge": "keep_survivor"}},)

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    churn_risk: Mapped[float] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    model: Mapped[str] = mapped_column(String(64))

"""Referral campaigns and their participants: create, change and run campaigns; give a contact
their code, their own WeCom contact way (任务宝) or group live code (群裂变), and their link.

Services never commit: the request, command or job that calls them does."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.channels.providers import ProviderService
from siyu.referrals import codes
from siyu.referrals.schemas import STATUSES, CampaignSpec, ReferralError, ReferralNotFound, parse_campaign
from siyu.store.models import Referral, ReferralCampaign, ReferralParticipant, ReferralReward, utcnow

if TYPE_CHECKING:
    from siyu.context import AppContext

#: Status changes an operator may make: (from, to).
MOVES = {
    "activate": ({"draft", "paused"}, "active"),
    "pause": ({"active"}, "paused"),
    "end": ({"draft", "active", "paused"}, "ended"),
}
WAY_PREFIX = "/cgi-bin/externalcontact"


def _iso(v: datetime | None) -> str | None:
    return v.isoformat() if v else None


def campaign_json(c: ReferralCampaign) -> dict[str, Any]:
    return {
        "key": c.key,
        "name": c.name,
        "kind": c.kind,
        "status": c.status,
        "starts_at": _iso(c.starts_at),
        "ends_at": _iso(c.ends_at),
        "target": dict(c.target or {}),
        "rewards": list(c.rewards or []),
        "caps": dict(c.caps or {}),
        "budget": None if c.budget is None else f"{Decimal(c.budget):.2f}",
        "spent": f"{Decimal(c.spent or 0):.2f}",
        "hold_days": c.hold_days,
        "fraud_mode": c.fraud_mode,
        "fraud_threshold": c.fraud_threshold,
        "settings": dict(c.settings or {}),
        "created_at": _iso(c.created_at),
        "updated_at": _iso(c.updated_at),
    }


def definition(c: ReferralCampaign) -> dict[str, Any]:
    """The stored campaign as a definition ``parse_campaign`` accepts (for updates)."""
    out = campaign_json(c)
    for k in ("status", "spent", "created_at", "updated_at"):
        out.pop(k)
    return out


def participant_json(p: ReferralParticipant, base_url: str) -> dict[str, Any]:
    return {
        "contact_id": p.contact_id,
        "code": p.code,
        "state": p.state,
        "url": codes.link(base_url, p.code),
        "config_id": p.config_id,
        "qr_url": p.qr_url,
        "joined_at": _iso(p.joined_at),
    }


def referral_json(r: Referral, campaign_key: str | None = None) -> dict[str, Any]:
    return {
        "id": r.id,
        "campaign": campaign_key,
        "inviter_id": r.inviter_id,
        "invitee_id": r.invitee_id,
        "parent_id": r.parent_id,
        "generation": r.generation,
        "via": r.via,
        "status": r.status,
        "invited_at": _iso(r.invited_at),
        "qualified_at": _iso(r.qualified_at),
        "approved_at": _iso(r.approved_at),
        "voided_at": _iso(r.voided_at),
        "void_reason": r.void_reason,
        "fraud_score": r.fraud_score,
        "reasons": list(r.fraud_reasons or []),
    }


def reward_json(w: ReferralReward) -> dict[str, Any]:
    return {
        "id": w.id,
        "referral_id": w.referral_id,
        "contact_id": w.contact_id,
        "milestone": w.milestone,
        "side": w.side,
        "kind": w.kind,
        "detail": dict(w.detail or {}),
        "value": f"{Decimal(w.value or 0):.2f}",
        "external_id": w.external_id,
        "status": w.status,
        "reason": w.reason,
        "at": _iso(w.at),
    }


class ReferralService:
    """``ctx`` is needed only to create WeCom contact ways / join ways for participants; without
    it (or without a configured provider) codes and links still work."""

    def __init__(
        self, session: Session, ctx: AppContext | None = None, *, now: datetime | None = None
    ) -> None:
        self.session = session
        self.ctx = ctx
        self.now = now or utcnow()

    # --- campaigns -----------------------------------------------------------------------------
    def get(self, key: str) -> ReferralCampaign:
        row = self.session.scalar(select(ReferralCampaign).where(ReferralCampaign.key == str(key)))
        if row is None:
            raise ReferralNotFound("campaign", f"no referral campaign {str(key)[:64]!r}")
        return row

    def list(self, status: str | None = None) -> list[ReferralCampaign]:
        q = select(ReferralCampaign).order_by(ReferralCampaign.id.desc())
        if status:
            q = q.where(ReferralCampaign.status == status)
        return list(self.session.scalars(q))

    def _apply(self, row: ReferralCampaign, spec: CampaignSpec) -> None:
        settings = dict(row.settings or {})
        settings.update(spec.settings)
        row.name, row.kind, row.target, row.rewards = spec.name, spec.kind, spec.target, spec.rewards
        row.caps, row.budget, row.hold_days = spec.caps, spec.budget, spec.hold_days
        row.fraud_mode, row.fraud_threshold, row.settings = spec.fraud_mode, spec.fraud_threshold, settings
        row.starts_at, row.ends_at, row.updated_at = spec.starts_at, spec.ends_at, self.now

    def create(self, data: dict[str, Any], actor: str = "system") -> ReferralCampaign:
        spec = parse_campaign(data)
        status = str(data.get("status") or "draft")
        if status not in STATUSES:
            raise ReferralError("status", f"must be one of {', '.join(STATUSES)}")
        if self.session.scalar(select(ReferralCampaign.id).where(ReferralCampaign.key == spec.key)):
            raise ReferralError("key", f"a referral campaign {spec.key!r} already exists")
        row = ReferralCampaign(
            key=spec.key, status=status, spent=Decimal(0), created_at=self.now, settings={}
        )
        self._apply(row, spec)
        self.session.add(row)
        self.session.flush()
        audit.record(
            self.session, actor, "referral_campaign.created", "referral_campaign", row.id, {"key": row.key}
        )
        return row

    def update(self, key: str, changes: dict[str, Any], actor: str = "system") -> ReferralCampaign:
        """The stored definition with ``changes`` laid over it, checked whole. The kind cannot
        change once someone joined (their codes point at a contact way or a group)."""
        row = self.get(key)
        merged = definition(row) | dict(changes)
        merged["key"] = row.key
        spec = parse_campaign(merged)
        if spec.kind != row.kind and self.participants_count(row) > 0:
            raise ReferralError("kind", "cannot change once participants have joined")
        self._apply(row, spec)
        audit.record(
            self.session, actor, "referral_campaign.updated", "referral_campaign", row.id, {"key": row.key}
        )
        return row

    def move(self, key: str, action: str, actor: str = "system") -> ReferralCampaign:
        if action not in MOVES:
            raise ReferralError("action", f"must be one of {', '.join(MOVES)}")
        row = self.get(key)
        allowed, to = MOVES[action]
        if row.status not in allowed:
            raise ReferralError("status", f"a {row.status} campaign cannot {action}")
        row.status, row.updated_at = to, self.now
        audit.record(
            self.session, actor, f"referral_campaign.{to}", "referral_campaign", row.id, {"key": row.key}
        )
        return row

    def participants_count(self, campaign: ReferralCampaign) -> int:
        return int(
            self.session.scalar(select(func.count()).where(ReferralParticipant.campaign_id == campaign.id))
            or 0
        )

    # --- participants ----------------------------------------------------------------------------
    def participant(self, campaign: ReferralCampaign, contact_id: int) -> ReferralParticipant | None:
        return self.session.scalar(
            select(ReferralParticipant).where(
                ReferralParticipant.campaign_id == campaign.id, ReferralParticipant.contact_id == contact_id
            )
        )

    def by_code(self, code: str) -> ReferralParticipant | None:
        return self.session.scalar(
            select(ReferralParticipant).where(ReferralParticipant.code == codes.normalise(code))
        )

    def by_state(self, state: str) -> ReferralParticipant | None:
        if not state or not state.startswith(codes.STATE_PREFIX):
            return None
        return self.session.scalar(select(ReferralParticipant).where(ReferralParticipant.state == state))

    def join(self, campaign: ReferralCampaign, contact_id: int, actor: str = "system") -> ReferralParticipant:
        """The contact's participation: the existing one, or a new code (and way). An ended
        campaign takes nobody new."""
        found = self.participant(campaign, contact_id)
        if found is not None:
            return found
        if campaign.status == "ended":
            raise ReferralError("campaign", f"campaign {campaign.key!r} has ended")
        for _ in range(5):  # a collision among 8.5·10¹¹ codes is rare; retried, never reported
            code = codes.new_code()
            row = ReferralParticipant(
                campaign_id=campaign.id,
                contact_id=contact_id,
                code=code,
                state=codes.state_for(campaign.id, code),
                joined_at=self.now,
            )
            try:
                with self.session.begin_nested():
                    self.session.add(row)
                    self.session.flush()
            except IntegrityError:
                found = self.participant(campaign, contact_id)
                if found is not None:  # another worker joined them at the same moment
                    return found
                continue
            self._make_way(campaign, row)
            audit.record(
                self.session,
                actor,
                "referral_participant.joined",
                "referral_participant",
                row.id,
                {"campaign": campaign.key, "contact_id": contact_id},
            )
            return row
        raise ReferralError("code", "could not draw a free code; try again")

    def _provider_ready(self, key: str) -> bool:
        if self.ctx is None:
            return False
        row = ProviderService(self.session, self.ctx.keyring).by_key(key)
        return row is not None and row.kind == "wecom"

    def _make_way(self, campaign: ReferralCampaign, row: ReferralParticipant) -> None:
        from siyu.channels.wecom_api import WeComError
        from siyu.wecom.provider import in_words

        try:
            self._make_way_at_wecom(campaign, row)
        except WeComError as exc:  # refused by WeCom (a staff member left, the quota): say why
            raise ReferralError("wecom", in_words(exc)) from exc

    def _make_way_at_wecom(self, campaign: ReferralCampaign, row: ReferralParticipant) -> None:
        """The participant's own WeCom contact way (任务宝) or group live code (群裂变), whose
        ``state`` comes back on the add / join callback. Without a configured provider the
        code and link still attribute; the way can be made later (``ensure_way``)."""
        target = campaign.target or {}
        provider = str(target.get("provider") or "wecom")
        if campaign.kind not in ("task", "group") or not self._provider_ready(provider):
            return
        assert self.ctx is not None and row.state is not None
        name = f"{campaign.name[:20]}-{row.code}"
        if campaign.kind == "task":
            from siyu.wecom.client import wecom_api

            staff = list(target.get("staff") or [])
            body = {
                "type": 1 if len(staff) == 1 else 2,
                "scene": 2,
                "remark": name[:30],
                "skip_verify": True,
                "state": row.state,
                "user": staff,
            }
            data = wecom_api(self.session, self.ctx, provider).call(
                "POST", f"{WAY_PREFIX}/add_contact_way", body, creates=True
            )
            row.config_id, row.qr_url = str(data["config_id"]), data.get("qr_code") or None
        else:
            from siyu.community.join_ways import JoinWayService
            from siyu.community.wecom import CommunityError

            try:  # a full group spills into a new one named after the campaign
                way = JoinWayService(self.session, self.ctx).create(
                    provider,
                    name,
                    row.state,
                    list(target.get("chat_ids") or []),
                    room_base_name=campaign.name[:20],
                    actor="referrals",
                )
            except CommunityError as exc:
                raise ReferralError("target.chat_ids", str(exc)) from exc
            row.config_id, row.qr_url = way.config_id, way.qr_code
        self.session.flush()

    def participants(
        self, campaign: ReferralCampaign, limit: int = 200, offset: int = 0
    ) -> list[ReferralParticipant]:
        return list(
            self.session.scalars(
                select(ReferralParticipant)
                .where(ReferralParticipant.campaign_id == campaign.id)
                .order_by(ReferralParticipant.id)
                .limit(limit)
                .offset(offset)
            )
        )

    # --- referrals and rewards -------------------------------------------------------------------
    def referrals(
        self, campaign: ReferralCampaign, status: str | None = None, limit: int = 1000, offset: int = 0
    ) -> list[Referral]:
        q = select(Referral).where(Referral.campaign_id == campaign.id)
        if status:
            q = q.where(Referral.status == status)
        return list(self.session.scalars(q.order_by(Referral.id).limit(limit).offset(offset)))

    def rewards(self, campaign: ReferralCampaign, limit: int = 1000) -> list[ReferralReward]:
        return list(
            self.session.scalars(
                select(ReferralReward)
                .where(ReferralReward.campaign_id == campaign.id)
                .order_by(ReferralReward.id)
                .limit(limit)
            )
        )

    def counts(self, campaign: ReferralCampaign) -> dict[str, int]:
        rows = self.session.execute(
            select(Referral.status, func.count())
            .where(Referral.campaign_id == campaign.id)
            .group_by(Referral.status)
        ).all()
        out = {s: 0 for s in ("pending", "qualified", "approved", "flagged", "voided")}
        out.update({str(s): int(n) for s, n in rows})
        out["participants"] = self.participants_count(campaign)
        return out

"""The send step's rules, applied again when the dispatcher is about to send a queued message.

A message can wait in the outbox for a long time — a provider outage, backoff, a long queue —
and the contact may withdraw consent, unsubscribe or be marked do-not-contact meanwhile, or the
queue may drain inside the quiet hours. The dispatcher (in ``channels``, which cannot import
journeys) takes a :data:`~siyu.channels.sending.SendCheck`; this is the one the journey worker
gives it. It calls the very functions the send step calls (``facts.consent_decisions``,
``policy.quiet_until``), with the journey's purpose and quiet hours, so there is one consent
rule, not two."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.channels.sending import Hold, QueuedMessage, Skip, Verdict
from siyu.journeys.engine import EngineConfig, spec_of
from siyu.journeys.facts import CONSENT_CHANNEL, consent_decisions, time_zones
from siyu.journeys.policy import quiet_until
from siyu.journeys.schemas import JourneySpec, QuietHours
from siyu.journeys.sends import purpose_of, quiet_hours_of, send_of
from siyu.profiles.pii import Keyring
from siyu.store.dialect import chunked
from siyu.store.models import Journey

#: Outbox channels that carry system calls, not messages (see ``sends.send_of``): service
#: purpose, no quiet hours, whether or not a journey queued them.
SYSTEM_CALLS = frozenset({"webhook", "wecom_tag"})


class SendTimeCheck:
    """Consent (and whatever ``facts.consents`` checks besides) and quiet hours for queued
    messages. A message whose journey or step is gone is checked as a marketing message of
    the default quiet hours, unless it is transactional."""

    def __init__(self, config: EngineConfig, keyring: Keyring | None = None) -> None:
        self.config = config
        self.keyring = keyring  # do-not-contact matches every identifier type, not only phone/email

    def __call__(self, session: Session, rows: Sequence[QueuedMessage], now: datetime) -> dict[int, Verdict]:
        specs = self._specs(session, {r.journey_id for r in rows if r.journey_id is not None})
        rules: dict[int, tuple[str, QuietHours | None]] = {}
        for r in rows:
            rules[r.id] = self._rules(specs.get(r.journey_id) if r.journey_id is not None else None, r)
        by_consent: dict[tuple[str, str], list[int]] = defaultdict(list)
        for r in rows:
            by_consent[(rules[r.id][0], CONSENT_CHANNEL.get(r.channel, r.channel))].append(r.contact_id)
        refused: dict[tuple[str, str], dict[int, str | None]] = {}
        for (purpose, channel), ids in by_consent.items():
            default = self.config.marketing_consent_default if purpose == "marketing" else True
            refused[(purpose, channel)] = consent_decisions(
                session, ids, purpose, channel, default, self.keyring
            )
        quiet_ids = [r.contact_id for r in rows if rules[r.id][1] is not None]
        zones = time_zones(session, quiet_ids, self.config.default_timezone) if quiet_ids else {}
        out: dict[int, Verdict] = {}
        for r in rows:
            purpose, quiet = rules[r.id]
            channel = CONSENT_CHANNEL.get(r.channel, r.channel)
            why = refused[(purpose, channel)][r.contact_id]
            if why == "do_not_contact":
                out[r.id] = Skip(f"consent: {purpose}/{channel}: do_not_contact at send time")
                continue
            if why is not None:
                out[r.id] = Skip(f"consent: no {purpose} consent on {channel} at send time")
                continue
            if quiet is None:
                continue
            until = quiet_until(now, zones[r.contact_id], quiet)
            if until is None:
                continue
            if quiet.mode == "hold":
                out[r.id] = Hold(
                    until, f"quiet hours {quiet.start}–{quiet.end}: held until {until.isoformat()}"
                )
            else:
                out[r.id] = Skip(f"quiet hours {quiet.start}–{quiet.end}")
        return out

    def _rules(self, spec: JourneySpec | None, r: QueuedMessage) -> tuple[str, QuietHours | None]:
        """(consent purpose, quiet hours or None when they do not apply) for one message."""
        send = None
        if spec is not None and r.step is not None:
            try:
                send = send_of(spec.step(r.step))
            except KeyError:  # the journey was edited and the step is gone
                send = None
        if spec is None or send is None:
            if r.channel in SYSTEM_CALLS:  # a webhook or a tag sync, as its step would make it
                return "service", None
            purpose = "service" if r.transactional else "marketing"
            quiet = None if r.transactional else self.config.quiet_hours
            return purpose, quiet
        transactional = send.transactional or r.transactional
        return purpose_of(spec, send), None if transactional else quiet_hours_of(self.config, spec)

    @staticmethod
    def _specs(session: Session, journey_ids: set[int]) -> dict[int, JourneySpec]:
        out: dict[int, JourneySpec] = {}
        for chunk in chunked(sorted(journey_ids)):
            for j in session.scalars(select(Journey).where(Journey.id.in_(chunk))):
                out[j.id] = spec_of(j)
        return out

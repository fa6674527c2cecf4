"""A participant's poster, made once and kept on disk until something on it changes.

The cache key is a hash of everything the poster shows: the template, the campaign's name,
the inviter's nickname, their link, the avatar and QR code URLs, the background file and the
font. It is computed from the database alone, so a repeat request (and its ETag check) costs no
fetch and no render. A poster drawn with a fallback (the avatar or the contact way's QR code
could not be fetched) is kept only for :data:`RETRY_AFTER_S`, so a CDN hiccup does not stick.
Each participant keeps one file: a new render removes their older ones. Reads only: nothing
here writes to the database."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.config import Settings
from siyu.referrals.posters import fetch
from siyu.referrals.posters.render import Inputs, find_font, render
from siyu.referrals.posters.template import FIELD, PosterError, PosterNotFound, PosterTemplate, parse
from siyu.store.models import ContactAttribute, MaterialFile, ReferralCampaign, ReferralParticipant
from siyu.store.private import private_dir

#: Bump when the drawing changes, so posters cached by an older version are drawn again.
RENDERER_VERSION = 1
#: Seconds a poster drawn with a fallback is served before fetching is tried again.
RETRY_AFTER_S = 600
#: What the console's preview shows in place of a real inviter.
SAMPLE_NICKNAME = "小明"
SAMPLE_CODE = "SAMPLE"
#: The nickname when the contact has none (the poster still reads naturally).
NO_NICKNAME = "你的好友"


@dataclass
class Poster:
    png: bytes
    etag: str  # the cache key: the same for as long as the poster looks the same
    width: int
    height: int
    cached: bool
    path: Path
    #: what could not be had and was drawn instead: "avatar", "qr", "background"; "retry" for
    #: such a poster served from the cache until RETRY_AFTER_S passes
    fallbacks: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "etag": self.etag,
            "width": self.width,
            "height": self.height,
            "bytes": len(self.png),
            "cached": self.cached,
            "fallbacks": self.fallbacks,
        }


@dataclass(frozen=True)
class _Subject:
    """One poster's inputs, as read from the database (URLs, not fetched images)."""

    owner: str  # file name prefix: the participant's id, or "preview"
    campaign_id: int
    campaign: str
    nickname: str
    link: str
    avatar_url: str | None
    qr_url: str | None


def referral_link(campaign: ReferralCampaign, code: str, public_url: str) -> str:
    """The participant's ``?ref=`` link: the campaign's landing page (``settings.landing_url``)
    when it has one, else the server's public address, with ``ref`` set to the code."""
    base = str((campaign.settings or {}).get("landing_url") or public_url.rstrip("/") + "/")
    parts = urlsplit(base)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "ref"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("ref", code)])))


def check_template(session: Session, poster: Any) -> PosterTemplate:
    """A campaign's ``settings["poster"]`` checked, including that an uploaded background
    exists: for the campaign service to call before it saves."""
    template = parse(poster)
    file_id = template.background.file
    if file_id and session.get(MaterialFile, file_id) is None:
        raise PosterError(
            f"no uploaded image {file_id[:12]}…; upload it to the content library first",
            field=f"{FIELD}.background.file",
            zh="背景图不存在，请先上传到素材库",
        )
    return template


class PosterService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    # --- what to draw --------------------------------------------------------------------------
    def _campaign(self, key: str) -> ReferralCampaign:
        campaign = self.session.scalar(select(ReferralCampaign).where(ReferralCampaign.key == key))
        if campaign is None:
            raise PosterNotFound(
                f"no referral campaign {key[:64]!r}", field="campaign", zh="没有这个裂变活动"
            )
        return campaign

    def _template(self, campaign: ReferralCampaign) -> PosterTemplate:
        return parse((campaign.settings or {}).get("poster"))

    def participant_subject(self, key: str, code: str) -> tuple[ReferralCampaign, _Subject]:
        campaign = self._campaign(key)
        participant = self.session.scalar(
            select(ReferralParticipant).where(
                ReferralParticipant.campaign_id == campaign.id, ReferralParticipant.code == code
            )
        )
        if participant is None:
            raise PosterNotFound(
                f"no participant with code {code[:32]!r} in campaign {key!r}",
                field="code",
                zh="没有这个邀请码",
            )
        traits = dict(
            self.session.execute(
                select(ContactAttribute.name, ContactAttribute.value).where(
                    ContactAttribute.contact_id == participant.contact_id,
                    ContactAttribute.name.in_(("nickname", "name", "avatar")),
                )
            ).all()
        )
        nickname = (
            str(traits.get("nickname") or traits.get("name") or NO_NICKNAME).strip()[:40] or NO_NICKNAME
        )
        avatar = traits.get("avatar")
        return campaign, _Subject(
            owner=str(participant.id),
            campaign_id=campaign.id,
            campaign=campaign.name,
            nickname=nickname,
            link=referral_link(campaign, participant.code, self.settings.public_url),
            avatar_url=str(avatar) if isinstance(avatar, str) and avatar else None,
            qr_url=participant.qr_url or None,
        )

    # --- posters -------------------------------------------------------------------------------
    def for_participant(self, key: str, code: str) -> Poster:
        """The poster of the participant with ``code`` in campaign ``key``."""
        campaign, subject = self.participant_subject(key, code)
        return self._poster(self._template(campaign), subject)

    def etag(self, key: str, code: str) -> str:
        """The poster's current ETag without drawing it (for If-None-Match)."""
        campaign, subject = self.participant_subject(key, code)
        template = self._template(campaign)
        return self._key(template, subject, find_font(self.settings.poster_font))

    def preview(self, key: str, poster: Any = None) -> Poster:
        """The campaign's poster for a sample inviter (initials, no contact way: the QR code of a
        sample link). ``poster``: a template to try instead of the saved one (the builder)."""
        campaign = self._campaign(key)
        template = check_template(self.session, poster) if poster is not None else self._template(campaign)
        subject = _Subject(
            owner="preview",
            campaign_id=campaign.id,
            campaign=campaign.name,
            nickname=SAMPLE_NICKNAME,
            link=referral_link(campaign, SAMPLE_CODE, self.settings.public_url),
            avatar_url=None,
            qr_url=None,
        )
        return self._poster(template, subject)

    # --- the cache -----------------------------------------------------------------------------
    def prune(self) -> int:
        """Remove cached posters of participants (and campaigns) that no longer exist, e.g.
        after a privacy deletion: a file keeps a person's nickname and avatar. Returns the
        number of files removed. Posters of live participants are left alone."""
        root = self.settings.data_dir / "posters"
        if not root.is_dir():
            return 0
        live = {
            (c, str(p))
            for c, p in self.session.execute(select(ReferralParticipant.campaign_id, ReferralParticipant.id))
        }
        campaigns = {str(c) for c in self.session.scalars(select(ReferralCampaign.id))}
        removed = 0
        for folder in root.iterdir():
            if not folder.is_dir():
                continue
            for file in folder.glob("*.png"):
                owner = file.name.split("-", 1)[0]
                keep = folder.name in campaigns and (
                    owner == "preview" or (folder.name.isdigit() and (int(folder.name), owner) in live)
                )
                if not keep:
                    file.unlink(missing_ok=True)
                    removed += 1
        return removed

    def _key(self, template: PosterTemplate, subject: _Subject, font: Path) -> str:
        stat = font.stat()
        material = [
            RENDERER_VERSION,
            template.model_dump(mode="json"),
            subject.campaign,
            subject.nickname,
            subject.link,
            subject.avatar_url,
            subject.qr_url,
            [str(font), stat.st_size, stat.st_mtime_ns],
        ]
        return hashlib.sha256(orjson.dumps(material, option=orjson.OPT_SORT_KEYS)).hexdigest()[:40]

    def _dir(self, campaign_id: int) -> Path:
        root = private_dir(self.settings.data_dir / "posters")
        return private_dir(root / str(campaign_id))

    def _poster(self, template: PosterTemplate, subject: _Subject) -> Poster:
        font = find_font(self.settings.poster_font)
        key = self._key(template, subject, font)
        folder = self._dir(subject.campaign_id)
        final = folder / f"{subject.owner}-{key}.png"
        retry = folder / f"{subject.owner}-{key}.retry.png"
        size = (template.width, template.height)
        if final.is_file():
            return Poster(final.read_bytes(), key, *size, cached=True, path=final)
        if retry.is_file() and time.time() - retry.stat().st_mtime < RETRY_AFTER_S:
            return Poster(retry.read_bytes(), key, *size, cached=True, path=retry, fallbacks=["retry"])
        inputs, fallbacks = self._inputs(template, subject)
        png = render(template, inputs, font)
        path = retry if fallbacks else final
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(png)
        os.replace(tmp, path)  # two workers drawing the same poster: the last complete file wins
        for old in folder.glob(f"{subject.owner}-*.png"):
            if old != path:
                old.unlink(missing_ok=True)
        return Poster(png, key, *size, cached=False, path=path, fallbacks=fallbacks)

    def _inputs(self, template: PosterTemplate, subject: _Subject) -> tuple[Inputs, list[str]]:
        hosts, timeout = self.settings.poster_image_hosts, self.settings.poster_fetch_timeout_s
        fallbacks: list[str] = []
        avatar = fetch.fetch_image(subject.avatar_url, hosts, timeout) if template.avatar else None
        if template.avatar and subject.avatar_url and avatar is None:
            fallbacks.append("avatar")
        qr = fetch.fetch_image(subject.qr_url, hosts, timeout)
        if subject.qr_url and qr is None:
            fallbacks.append("qr")
        background = None
        if template.background.file:
            row = self.session.get(MaterialFile, template.background.file)
            background = fetch.decode(row.data) if row is not None else None
            if background is None:
                fallbacks.append("background")
        inputs = Inputs(subject.nickname, subject.campaign, subject.link, avatar, qr, background)
        return inputs, fallbacks

"""The journey step ``issue_coupon``: a coupon each, never twice for one enrolment and step, the
holdout goes on without one."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from tests.journeys.conftest import T0, at

from siyu.coupons.templates import TemplateService
from siyu.journeys.schemas import parse_journey
from siyu.store.models import JourneyEnrolment
from siyu.store.models.coupons import Coupon, CouponHoldout


def _template(jk, **fields) -> None:
    with jk.ctx.db.session() as s:
        TemplateService(s, now=T0).create(
            {"key": "welcome", "name": "新人券", "kind": "fixed", "amount": "10", "valid_days": 7, **fields}
        )


def test_each_contact_gets_one_coupon_even_when_the_step_runs_again(jk) -> None:
    _template(jk)
    jk.journey([{"id": "gift", "issue_coupon": {"template": "welcome"}}])
    a, b = jk.contact(), jk.contact()
    jk.enrol([a, b])
    jk.run(T0)
    with jk.ctx.db.session() as s:
        rows = s.execute(select(Coupon.contact_id, Coupon.external_id, Coupon.issued_by)).all()
    assert {r.contact_id for r in rows} == {a, b}
    assert all(r.external_id.startswith("journey:") and r.external_id.endswith(":gift") for r in rows)
    assert {r.issued_by for r in rows} == {"journey:j"}
    assert jk.enrolment(a)["data"]["coupon"]["code"]
    with jk.ctx.db.session() as s:  # a worker died after issuing, before saving the state
        s.execute(update(JourneyEnrolment).values(status="active", step="gift", due_at=T0, finished_at=None))
    assert jk.run(at(minutes=1)).claimed == 2
    with jk.ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Coupon)) == 2
    assert [cid for cid, _, _ in jk.events("Coupon Issued")].count(a) == 1


def test_held_out_and_paused_go_on_without_a_coupon(jk) -> None:
    _template(jk, holdout_percent=90)
    jk.journey([{"id": "gift", "issue_coupon": {"template": "welcome"}}, {"id": "tag", "add_tag": "after"}])
    people = [jk.contact() for _ in range(10)]
    jk.enrol(people)
    jk.run(T0)
    with jk.ctx.db.session() as s:
        held = set(s.scalars(select(CouponHoldout.contact_id)))
        got = set(s.scalars(select(Coupon.contact_id)))
    assert held and held | got == set(people) and not held & got
    assert all(jk.enrolment(c)["status"] == "completed" for c in people)


def test_paused_template_is_noted_on_the_enrolment(jk) -> None:
    _template(jk, status="paused")
    jk.journey([{"id": "gift", "issue_coupon": {"template": "welcome"}}])
    c = jk.contact()
    jk.enrol([c])
    jk.run(T0)
    e = jk.enrolment(c)
    assert e["status"] == "completed" and e["data"]["coupon_error"] == "template_paused"


def test_the_step_needs_a_template_key() -> None:
    import pytest

    from siyu.journeys.schemas import JourneyDefinitionError

    doc = {"key": "j", "name": "j", "trigger": {"list": {}}, "steps": [{"id": "g", "issue_coupon": {}}]}
    with pytest.raises((JourneyDefinitionError, ValueError)):
        parse_journey(doc)


def test_a_later_send_shows_the_coupon_this_journey_issued(jk) -> None:
    """``{{ coupon.code }}`` after an ``issue_coupon`` step is that step's coupon (not another one
    the contact holds), its expiry readable in the brand's zone."""
    _template(jk)
    text = "券码 {{ coupon.code }}，{{ coupon.expires_at }} 前有效 {{ points }}"
    jk.template(body={"template_code": "SMS_1", "params": {"code": "{{ coupon.code }}"}, "text": text})
    jk.journey(
        [
            {"id": "gift", "issue_coupon": {"template": "welcome"}},
            {"id": "hi", "send": {"channel": "sms", "template": "hello"}},
        ]
    )
    c = jk.contact()
    jk.consent(c, True)
    jk.enrol([c])
    jk.run(T0)
    with jk.ctx.db.session() as s:
        code, expires = s.execute(select(Coupon.code, Coupon.expires_at).where(Coupon.contact_id == c)).one()
    local = expires.astimezone(ZoneInfo("Asia/Shanghai")) if expires.tzinfo else expires
    [message] = jk.outbox()
    assert message["content"]["text"] == f"券码 {code}，{local:%Y-%m-%d %H:%M} 前有效 0"

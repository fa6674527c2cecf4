"""The warehouse SQL of one representative definition, kept here verbatim so that any change
to the generated query shows in review. When the query changes on purpose, paste the new text
(``pytest -q tests/segments/test_sql_snapshot.py`` prints it in the failure)."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from typing import Any

from siyu.client import Siyu
from siyu.store.models import Segment

AS_OF = datetime(2025, 2, 20, 12, tzinfo=UTC)
DEFINITION = {
    "type": "and",
    "conditions": [
        {"type": "attribute", "name": "plan", "op": "ne", "value": "'; DROP TABLE events; --"},
        {"type": "attribute", "name": "birthday", "op": "anniversary_within_days", "days": 2},
        {"type": "tags", "tags": ["vip", "engaged"], "match": "all", "min_weight": 0.5},
        {
            "type": "or",
            "conditions": [
                {
                    "type": "event",
                    "event": "Order Completed",
                    "where": [{"property": "currency", "op": "in", "value": ["CNY", "USD"]}],
                    "sum": {"property": "amount", "op": "gte", "value": 100},
                    "within": {"days": 30},
                },
                {"type": "event", "event": "*", "last": {"op": "after", "days_ago": 7}},
            ],
        },
        {
            "type": "not",
            "condition": {"type": "consent", "purpose": "marketing", "channel": "sms", "state": "withdrawn"},
        },
        {"type": "first_touch", "channels": ["wecom"], "entry_codes": ["wc-a"]},
        {"type": "channel", "channels": ["wecom"]},
        {"type": "stage", "stages": ["retention", "conversion"]},
        {"type": "rfm", "segments": ["champions"], "r": [4, 5]},
        {"type": "segment", "segment": "other", "member": False},
    ],
}


def catalog(env: Any) -> None:
    """Names the definition refers to; in a fresh database their ids are 1 and 2."""
    client = Siyu(env.ctx)
    client.create_channel("wecom", "wecom")
    client.create_entry_code("wecom", "wc-a")
    env.batch([env.call("identify", "c1", AS_OF, traits={"plan": "gold"})])
    cid = env.contact_ids()["c1"]
    env.add_tags([(cid, "engaged", 1.0, AS_OF), (cid, "vip", 1.0, AS_OF)], {"engaged": 14.0})
    with env.session() as s:
        s.add(
            Segment(
                key="other",
                name="Other",
                kind="static",
                definition={"type": "stage", "stages": ["dormant"]},
                cursor={},
            )
        )


def test_sql_of_a_representative_definition(env: Any) -> None:
    catalog(env)
    with env.service() as svc:
        sql, params = svc.sql(DEFINITION, as_of=AS_OF)
    got = "\n".join(textwrap.wrap(" ".join(sql.split()), 100, break_long_words=False, break_on_hyphens=False))
    print(got, params, sep="\n")
    assert got == SQL.strip()
    assert params == PARAMS


SQL = r"""
SELECT contacts.id AS contact_id FROM contacts LEFT OUTER JOIN (SELECT events.contact_id AS
contact_id, sum((CASE WHEN regexp_full_match((events.properties ->> ?),
'-?(0|[1-9][0-9]{0,254})(\.[0-9]{1,255})?([eE][-+]?0*[0-9]{1,4})?') THEN (CASE WHEN
abs(TRY_CAST((events.properties ->> ?) AS DOUBLE)) >= 1e308 THEN NULL WHEN
abs(TRY_CAST((events.properties ->> ?) AS DOUBLE)) < 1e-300 THEN 0.0 ELSE
TRY_CAST((events.properties ->> ?) AS DOUBLE) END) END)) FILTER (WHERE events.event = ? AND
(events.properties ->> ?) IN (?, ?) AND events.timestamp >= ? AND events.timestamp <= ?) AS b0,
max(events.timestamp) FILTER (WHERE events.type IN (?, ?, ?) AND (events.event IS NULL OR
(events.event NOT IN (?, ?, ?, ?, ?)))) AS b1 FROM events GROUP BY events.contact_id) AS beh ON
beh.contact_id = contacts.id LEFT OUTER JOIN (SELECT contact_attributes.contact_id AS contact_id,
count(*) FILTER (WHERE contact_attributes.name = ? AND json_extract_string(contact_attributes.value,
'$') = ?) AS attr0, count(*) FILTER (WHERE contact_attributes.name = ? AND
strftime(TRY_CAST(json_extract_string(contact_attributes.value, '$') AS DATE), '%m-%d') IN (?, ?,
?)) AS attr1 FROM contact_attributes WHERE contact_attributes.name = ? OR contact_attributes.name =
? GROUP BY contact_attributes.contact_id) AS attr_s ON attr_s.contact_id = contacts.id LEFT OUTER
JOIN (SELECT consent_records.contact_id AS contact_id, array_agg(consent_records.granted ORDER BY
consent_records.occurred_at DESC, consent_records.id DESC) FILTER (WHERE consent_records.purpose = ?
AND consent_records.channel IN (?, ?)) AS consent0 FROM consent_records GROUP BY
consent_records.contact_id) AS consent_s ON consent_s.contact_id = contacts.id LEFT OUTER JOIN
(SELECT segment_members.contact_id AS contact_id, count(*) FILTER (WHERE segment_members.segment_id
= ?) AS member0 FROM segment_members WHERE segment_members.segment_id = ? GROUP BY
segment_members.contact_id) AS member_s ON member_s.contact_id = contacts.id LEFT OUTER JOIN (SELECT
contact_rfm.contact_id AS contact_id, count(*) FILTER (WHERE contact_rfm.segment IN (?) AND
contact_rfm.r BETWEEN ? AND ?) AS rfm0 FROM contact_rfm GROUP BY contact_rfm.contact_id) AS rfm_s ON
rfm_s.contact_id = contacts.id LEFT OUTER JOIN (SELECT contact_stages.contact_id AS contact_id,
count(*) FILTER (WHERE contact_stages.stage IN (?, ?)) AS stage0 FROM contact_stages GROUP BY
contact_stages.contact_id) AS stage_s ON stage_s.contact_id = contacts.id LEFT OUTER JOIN (SELECT
contact_tags.contact_id AS contact_id, count(DISTINCT contact_tags.tag_id) FILTER (WHERE
contact_tags.tag_id IN (?, ?) AND CASE WHEN (contact_tags.tag_id = ?) THEN contact_tags.weight *
power(?, ((epoch(?) - epoch(contact_tags.weighted_at)) / CAST(? AS DOUBLE PRECISION)) / CAST(? AS
DOUBLE PRECISION)) ELSE contact_tags.weight END >= ?) AS tag0 FROM contact_tags WHERE
contact_tags.tag_id IN (?, ?) GROUP BY contact_tags.contact_id) AS tag_s ON tag_s.contact_id =
contacts.id LEFT OUTER JOIN (SELECT touches.contact_id AS contact_id, count(*) FILTER (WHERE
touches.channel_id IN (?)) AS touch0 FROM touches GROUP BY touches.contact_id) AS touch_s ON
touch_s.contact_id = contacts.id WHERE contacts.merged_into_id IS NULL AND
coalesce(coalesce(attr_s.attr0, ?) <= ?, false) AND coalesce(coalesce(attr_s.attr1, ?) > ?, false)
AND coalesce(coalesce(tag_s.tag0, ?) = ?, false) AND (coalesce(coalesce(beh.b0, ?) >= ?, false) OR
coalesce(beh.b1 > ?, false)) AND NOT coalesce(consent_s.consent0[?] IS false, false) AND
coalesce(contacts.first_channel_id IN (?) AND contacts.first_entry_code_id IN (?), false) AND
coalesce(coalesce(touch_s.touch0, ?) > ?, false) AND coalesce(coalesce(stage_s.stage0, ?) > ?,
false) AND coalesce(coalesce(rfm_s.rfm0, ?) > ?, false) AND coalesce(coalesce(member_s.member0, ?)
<= ?, false)
"""
PARAMS: list[Any] = [
    "amount",
    "amount",
    "amount",
    "amount",
    "Order Completed",
    "currency",
    "CNY",
    "USD",
    datetime(2025, 1, 21, 12, 0),
    datetime(2025, 2, 20, 12, 0),
    "track",
    "page",
    "screen",
    "tag.added",
    "tag.removed",
    "segment.entered",
    "segment.exited",
    "stage.changed",
    "plan",
    "'; DROP TABLE events; --",
    "birthday",
    "02-20",
    "02-21",
    "02-22",
    "plan",
    "birthday",
    "marketing",
    "*",
    "sms",
    1,
    1,
    "champions",
    4,
    5,
    "retention",
    "conversion",
    1,
    2,
    1,
    0.5,
    datetime(2025, 2, 20, 12, 0),
    86400.0,
    14.0,
    0.5,
    1,
    2,
    1,
    0,
    0,
    0,
    0,
    0,
    2,
    0.0,
    100.0,
    datetime(2025, 2, 13, 12, 0),
    1,
    1,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
]

"""REST endpoints for tags, segments, journey stages and RFM.

Thin: parse, call the Python API, return its plain data. Errors map to statuses in
``api.app`` (unknown → 404, conflicts → 409, invalid definitions → 422 with the node path,
warehouse held by another process for too long → 503).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from siyu.api.deps import get_client
from siyu.api.files import file_response
from siyu.api.security import actor_of, require, signed_in
from siyu.auth.roles import Permission

router = APIRouter(prefix="/api/v1")


class SegmentIn(BaseModel):
    key: str
    name: str
    kind: str = "dynamic"
    definition: dict[str, Any]


class PreviewIn(BaseModel):
    definition: dict[str, Any]
    sample: int = Field(default=10, ge=0, le=1000)


@router.get("/segments", tags=["segments"], summary="Every segment with its size")
def segments_list(request: Request) -> list[dict[str, Any]]:
    return get_client(request).segments.list()


@router.post("/segments", tags=["segments"], status_code=201, summary="Create a segment and compute it")
def segments_create(body: dict[str, Any], request: Request) -> dict[str, Any]:
    # The body is validated by the segment language itself, so errors name the bad node.
    return get_client(request).segments.create(body, actor=actor_of(request))


@router.post("/segments/preview", tags=["segments"], summary="Count and sample of a definition")
def segments_preview(body: PreviewIn, request: Request) -> dict[str, Any]:
    return get_client(request).segments.preview(body.definition, body.sample)


@router.get("/segments/{key}", tags=["segments"], summary="A segment and its definition")
def segments_get(key: str, request: Request) -> dict[str, Any]:
    return get_client(request).segments.get(key)


@router.get("/segments/{key}/members", tags=["segments"], summary="Contact ids in a segment")
def segments_members(
    key: str, request: Request, limit: int = Query(100, ge=1, le=100_000), offset: int = Query(0, ge=0)
) -> list[int]:
    return get_client(request).segments.members(key, limit, offset)


@router.post("/segments/{key}/recompute", tags=["segments"], summary="Recompute (incremental unless full)")
def segments_recompute(key: str, request: Request, full: bool = False) -> dict[str, Any]:
    return get_client(request).segments.recompute(key, full)[0]


@router.delete(
    "/segments/{key}",
    tags=["segments"],
    status_code=204,
    summary="Delete a segment (409 naming the journeys and segments that still use it)",
)
def segments_delete(key: str, request: Request) -> None:
    get_client(request).segments.delete(key, actor=actor_of(request))


@router.put(
    "/segments/{key}", tags=["segments"], summary="Edit a segment: a new version, same key, recomputed"
)
def segments_update(key: str, body: dict[str, Any], request: Request) -> dict[str, Any]:
    # A segment document (fields left out keep their value) or a bare definition.
    return get_client(request).segments.update(key, body, actor=actor_of(request))


@router.get("/segments/{key}/versions", tags=["segments"], summary="Saved versions, newest first")
def segments_versions(key: str, request: Request) -> list[dict[str, Any]]:
    return get_client(request).segments.versions(key)


@router.get(
    "/segments/{key}/export",
    tags=["segments"],
    summary="Members as CSV (UTF-8 BOM) or XLSX; masked unless reveal=true (needs pii.export)",
    response_class=Response,
)
def segments_export(
    key: str,
    request: Request,
    format: str = Query("csv", pattern="^(csv|xlsx)$"),
    reveal: bool = False,
    lang: str = Query("zh", pattern="^(zh|en)$"),
) -> Response:
    principal = require(request, Permission.PII_EXPORT) if reveal else signed_in(request)
    file = get_client(request).segments.export(key, format, reveal=reveal, actor=principal.actor, lang=lang)
    return file_response(file, f"segment-{key}")


# --- tags -----------------------------------------------------------------------------------------
class TagIn(BaseModel):
    key: str
    half_life_days: float | None = None


class TagGroupIn(BaseModel):
    name: str
    description: str = ""
    exclusive: bool = False


class Tagging(BaseModel):
    contacts: list[int | str] = Field(min_length=1, max_length=100_000)
    weight: float | None = Field(default=None, gt=0)
    create: bool = False


class TagRuleIn(BaseModel):
    name: str
    rule: dict[str, Any]


@router.get("/tags", tags=["tags"], summary="Every tag with how many contacts hold it")
def tags_list(request: Request) -> list[dict[str, Any]]:
    return get_client(request).tags.list()


@router.post("/tags", tags=["tags"], status_code=201)
def tags_create(body: TagIn, request: Request) -> dict[str, Any]:
    return get_client(request).tags.create(body.key, body.half_life_days, actor=actor_of(request))


@router.post("/tag-groups", tags=["tags"], status_code=201)
def tag_groups_create(body: TagGroupIn, request: Request) -> dict[str, Any]:
    tags = get_client(request).tags
    return tags.create_group(body.name, body.description, body.exclusive, actor=actor_of(request))


@router.post("/tags/{key:path}/contacts", tags=["tags"], summary="Tag contacts (ids or identifiers)")
def tags_apply(key: str, body: Tagging, request: Request) -> dict[str, Any]:
    tags = get_client(request).tags
    return tags.apply(key, body.contacts, body.weight, create=body.create, actor=actor_of(request))


@router.post("/tags/{key:path}/remove", tags=["tags"], summary="Remove a tag from contacts")
def tags_remove(key: str, body: Tagging, request: Request) -> dict[str, Any]:
    return get_client(request).tags.remove(key, body.contacts, actor=actor_of(request))


@router.post("/tags/{key:path}/segment/{segment}", tags=["tags"], summary="Tag every member of a segment")
def tags_segment(key: str, segment: str, request: Request, create: bool = False) -> dict[str, Any]:
    return get_client(request).tags.apply_to_segment(key, segment, create, actor=actor_of(request))


@router.get("/contacts/{query}/tags", tags=["tags"], summary="A contact's tags and tag history")
def contact_tags(query: str, request: Request) -> dict[str, Any]:
    return get_client(request).tags.of(query)


@router.get("/tag-rules", tags=["tags"])
def tag_rules(request: Request) -> list[dict[str, Any]]:
    return get_client(request).tags.rules()


@router.post("/tag-rules", tags=["tags"], status_code=201)
def tag_rules_create(body: TagRuleIn, request: Request) -> dict[str, Any]:
    return get_client(request).tags.create_rule(body.name, body.rule, actor=actor_of(request))


@router.post("/tag-rules/run", tags=["tags"], summary="Apply the rules to events not yet seen")
def tag_rules_run(request: Request) -> dict[str, Any]:
    return get_client(request).tags.run_rules()


# --- journey stages and RFM -------------------------------------------------------------------------
class StageIn(BaseModel):
    stage: str
    reason: str = "manual"


@router.get("/stages", tags=["stages"], summary="Contacts per journey stage")
def stages_distribution(request: Request) -> dict[str, int]:
    return get_client(request).stages.distribution()


@router.post("/stages/assign", tags=["stages"], summary="Assign every contact's stage by the rules")
def stages_assign(request: Request) -> dict[str, Any]:
    return get_client(request).stages.assign()


@router.get("/stages/flow", tags=["stages"], summary="Stage-to-stage moves in a period")
def stages_flow(
    request: Request, since: datetime | None = None, until: datetime | None = None
) -> list[dict[str, Any]]:
    return get_client(request).stages.flow(since, until)


@router.get("/stages/rules", tags=["stages"])
def stages_rules(request: Request) -> list[dict[str, Any]]:
    return get_client(request).stages.rules()


@router.put("/stages/rules", tags=["stages"])
def stages_set_rules(body: list[dict[str, Any]], request: Request) -> list[dict[str, Any]]:
    return get_client(request).stages.set_rules(body, actor=actor_of(request))


@router.get("/contacts/{query}/stage", tags=["stages"], summary="A contact's stage and history")
def contact_stage(query: str, request: Request) -> dict[str, Any]:
    return get_client(request).stages.of(query)


@router.post("/contacts/{query}/stage", tags=["stages"], summary="Set a contact's stage by hand")
def contact_set_stage(query: str, body: StageIn, request: Request) -> dict[str, Any] | None:
    return get_client(request).stages.set(query, body.stage, body.reason, actor=actor_of(request))


@router.get("/rfm", tags=["rfm"], summary="RFM segments and the R×F grid")
def rfm_distribution(request: Request) -> dict[str, Any]:
    return get_client(request).rfm.distribution()


@router.post("/rfm/compute", tags=["rfm"], summary="Compute RFM scores from orders")
def rfm_compute(request: Request) -> dict[str, Any]:
    return get_client(request).rfm.compute()


@router.get("/rfm/rules", tags=["rfm"])
def rfm_rules(request: Request) -> list[dict[str, Any]]:
    return get_client(request).rfm.rules()


@router.put("/rfm/rules", tags=["rfm"])
def rfm_set_rules(body: list[dict[str, Any]], request: Request) -> list[dict[str, Any]]:
    return get_client(request).rfm.set_rules(body, actor=actor_of(request))


@router.get("/contacts/{query}/rfm", tags=["rfm"], summary="A contact's RFM scores")
def contact_rfm(query: str, request: Request) -> dict[str, Any] | None:
    return get_client(request).rfm.of(query)

"""Which permission each REST route needs: one table, reviewed in one place.

``authorise`` looks the matched route up here; a route missing from the table answers 403 to
everyone (fail closed), and tests/auth/test_authorisation.py walks every route with every role
against it. Permissions belong to the auth capability (``siyu.auth.roles``); this table is the
interface's part: which HTTP operation is which kind of act.
"""

from __future__ import annotations

from typing import Final

from siyu.auth.roles import Permission as P

#: Routes that authenticate themselves: the provider's signature on callbacks.
PUBLIC: Final = "public"
#: Any signed-in user or valid key (their own identity).
ANY: Final = "any"

ROUTES: dict[tuple[str, str], P | str] = {
    ("GET", "/api/v1/me"): ANY,
    ("GET", "/api/v1/stats"): P.DASHBOARD_READ,
    # contacts (reveal=true additionally needs pii.reveal, checked by the handler)
    ("GET", "/api/v1/contacts/{query}"): P.CONTACTS_READ,
    ("POST", "/api/v1/contacts/{query}/consent"): P.CONTACTS_WRITE,
    ("GET", "/api/v1/contacts/{query}/tags"): P.CONTACTS_READ,
    ("GET", "/api/v1/contacts/{query}/stage"): P.CONTACTS_READ,
    ("POST", "/api/v1/contacts/{query}/stage"): P.CONTACTS_WRITE,
    ("GET", "/api/v1/contacts/{query}/rfm"): P.CONTACTS_READ,
    ("GET", "/api/v1/exports/contacts"): P.PII_EXPORT,
    # the contacts list; exports are masked (reveal=true additionally needs pii.export)
    ("GET", "/api/v1/lists/contacts"): P.CONTACTS_READ,
    ("POST", "/api/v1/lists/contacts/tag"): P.CONTACTS_WRITE,
    ("POST", "/api/v1/lists/contacts/enrol"): P.JOURNEYS_WRITE,
    ("POST", "/api/v1/lists/contacts/export"): P.CONTACTS_READ,
    # PIPL rights (the person is named in the body, never the path: see api/privacy.py)
    ("POST", "/api/v1/privacy/export"): P.PRIVACY_EXPORT,
    ("POST", "/api/v1/privacy/correct"): P.CONTACTS_WRITE,
    ("POST", "/api/v1/privacy/delete"): P.PRIVACY_DELETE,
    ("GET", "/api/v1/privacy/deletions"): P.PRIVACY_DELETE,
    ("GET", "/api/v1/privacy/do-not-contact"): P.PRIVACY_DELETE,
    ("DELETE", "/api/v1/privacy/do-not-contact/{entry_id}"): P.PRIVACY_DELETE,
    ("POST", "/api/v1/imports"): P.IMPORTS_WRITE,
    # an import's rejected lines (reveal=true additionally needs pii.reveal, checked by the handler)
    ("GET", "/api/v1/imports/{job_id}/rejected"): P.IMPORTS_WRITE,
    # traffic pool
    ("GET", "/api/v1/channels"): P.CHANNELS_READ,
    ("POST", "/api/v1/channels"): P.CHANNELS_MANAGE,
    ("GET", "/api/v1/entry-codes"): P.CHANNELS_READ,
    ("POST", "/api/v1/entry-codes"): P.CHANNELS_MANAGE,
    # WeCom contact ways, links, figures, sync, staff and transfers
    ("GET", "/api/v1/wecom/entry-codes"): P.CHANNELS_READ,
    ("POST", "/api/v1/wecom/entry-codes"): P.CHANNELS_MANAGE,
    ("GET", "/api/v1/wecom/entry-codes/{state}"): P.CHANNELS_READ,
    ("PATCH", "/api/v1/wecom/entry-codes/{state}"): P.CHANNELS_MANAGE,
    ("DELETE", "/api/v1/wecom/entry-codes/{state}"): P.CHANNELS_MANAGE,
    ("POST", "/api/v1/wecom/entry-codes/{state}/link-customers"): P.CHANNELS_MANAGE,
    ("GET", "/api/v1/wecom/figures"): P.CHANNELS_READ,
    ("POST", "/api/v1/wecom/sync"): P.CHANNELS_MANAGE,
    ("GET", "/api/v1/wecom/sync-runs"): P.CHANNELS_READ,
    ("GET", "/api/v1/staff"): P.CHANNELS_READ,
    ("GET", "/api/v1/staff/{userid}"): P.CHANNELS_READ,
    ("GET", "/api/v1/wecom/transfers"): P.CHANNELS_READ,
    # moving customers between staff changes who serves them: the brand's admins decide
    ("POST", "/api/v1/wecom/transfers"): P.CHANNELS_MANAGE,
    ("POST", "/api/v1/wecom/transfers/poll"): P.CHANNELS_MANAGE,
    # sources carry write keys (secrets): admins only, reading included
    ("GET", "/api/v1/sources"): P.CHANNELS_MANAGE,
    ("POST", "/api/v1/sources"): P.CHANNELS_MANAGE,
    # customer groups and communities: members are contacts (read masked); live codes are
    # entry points like entry codes; group messages send; ranking writes tags
    ("GET", "/api/v1/groups"): P.CONTACTS_READ,
    ("POST", "/api/v1/groups/sync"): P.CHANNELS_MANAGE,
    ("POST", "/api/v1/groups/messages"): P.JOURNEYS_WRITE,
    ("GET", "/api/v1/groups/{chat_id}"): P.CONTACTS_READ,
    ("GET", "/api/v1/group-join-ways"): P.CHANNELS_READ,
    ("POST", "/api/v1/group-join-ways"): P.CHANNELS_MANAGE,
    ("POST", "/api/v1/group-join-ways/swap"): P.CHANNELS_MANAGE,
    ("GET", "/api/v1/group-join-ways/{state}"): P.CHANNELS_READ,
    ("PUT", "/api/v1/group-join-ways/{state}"): P.CHANNELS_MANAGE,
    ("DELETE", "/api/v1/group-join-ways/{state}"): P.CHANNELS_MANAGE,
    # membership and points; the programme and tiers are the brand's settings (admins)
    ("GET", "/api/v1/loyalty/programme"): P.CONTACTS_READ,
    ("PATCH", "/api/v1/loyalty/programme"): P.CHANNELS_MANAGE,
    ("GET", "/api/v1/loyalty/tiers"): P.CONTACTS_READ,
    ("POST", "/api/v1/loyalty/tiers"): P.CHANNELS_MANAGE,
    ("PATCH", "/api/v1/loyalty/tiers/{key}"): P.CHANNELS_MANAGE,
    ("GET", "/api/v1/loyalty/members"): P.CONTACTS_READ,
    ("POST", "/api/v1/loyalty/members"): P.CONTACTS_WRITE,
    ("GET", "/api/v1/loyalty/members/{query}"): P.CONTACTS_READ,
    ("GET", "/api/v1/loyalty/members/{query}/balance"): P.CONTACTS_READ,
    ("GET", "/api/v1/loyalty/members/{query}/ledger"): P.CONTACTS_READ,
    ("POST", "/api/v1/loyalty/members/{query}/award"): P.CONTACTS_WRITE,
    ("POST", "/api/v1/loyalty/members/{query}/spend"): P.CONTACTS_WRITE,
    ("GET", "/api/v1/loyalty/verify"): P.CONTACTS_READ,
    ("POST", "/api/v1/loyalty/jobs"): P.CONTACTS_WRITE,
    ("GET", "/api/v1/community/pyramid"): P.CONTACTS_READ,
    ("POST", "/api/v1/community/rank"): P.CONTACTS_WRITE,
    ("POST", "/api/v1/community/health"): P.CONTACTS_WRITE,
    ("GET", "/api/v1/group-sops"): P.JOURNEYS_READ,
    ("POST", "/api/v1/group-sops"): P.JOURNEYS_WRITE,
    ("POST", "/api/v1/group-sops/run"): P.JOURNEYS_WRITE,
    # segments, tags, stages, RFM
    ("GET", "/api/v1/segments"): P.SEGMENTS_READ,
    ("POST", "/api/v1/segments"): P.SEGMENTS_WRITE,
    ("POST", "/api/v1/segments/preview"): P.SEGMENTS_READ,
    ("GET", "/api/v1/segments/{key}"): P.SEGMENTS_READ,
    ("DELETE", "/api/v1/segments/{key}"): P.SEGMENTS_WRITE,
    ("PUT", "/api/v1/segments/{key}"): P.SEGMENTS_WRITE,
    ("GET", "/api/v1/segments/{key}/versions"): P.SEGMENTS_READ,
    ("GET", "/api/v1/segments/{key}/export"): P.SEGMENTS_READ,
    ("GET", "/api/v1/segments/{key}/members"): P.SEGMENTS_READ,
    ("POST", "/api/v1/segments/{key}/recompute"): P.SEGMENTS_WRITE,
    ("GET", "/api/v1/tags"): P.SEGMENTS_READ,
    ("POST", "/api/v1/tags"): P.TAGS_WRITE,
    ("POST", "/api/v1/tag-groups"): P.TAGS_WRITE,
    ("POST", "/api/v1/tags/{key:path}/contacts"): P.CONTACTS_WRITE,
    ("POST", "/api/v1/tags/{key:path}/remove"): P.CONTACTS_WRITE,
    ("POST", "/api/v1/tags/{key:path}/segment/{segment}"): P.CONTACTS_WRITE,
    ("GET", "/api/v1/tag-rules"): P.SEGMENTS_READ,
    ("POST", "/api/v1/tag-rules"): P.TAGS_WRITE,
    ("POST", "/api/v1/tag-rules/run"): P.TAGS_WRITE,
    ("GET", "/api/v1/stages"): P.SEGMENTS_READ,
    ("POST", "/api/v1/stages/assign"): P.SEGMENTS_WRITE,
    ("GET", "/api/v1/stages/flow"): P.SEGMENTS_READ,
    ("GET", "/api/v1/stages/rules"): P.SEGMENTS_READ,
    ("PUT", "/api/v1/stages/rules"): P.SEGMENTS_WRITE,
    ("GET", "/api/v1/rfm"): P.SEGMENTS_READ,
    ("POST", "/api/v1/rfm/compute"): P.SEGMENTS_WRITE,
    ("GET", "/api/v1/rfm/rules"): P.SEGMENTS_READ,
    ("PUT", "/api/v1/rfm/rules"): P.SEGMENTS_WRITE,
    # the event catalogue: anyone who reads analyses reads it; segment writers edit it
    ("GET", "/api/v1/event-catalogue"): P.ANALYTICS_READ,
    ("POST", "/api/v1/event-catalogue/learn"): P.SEGMENTS_WRITE,
    ("GET", "/api/v1/event-catalogue/{name:path}"): P.ANALYTICS_READ,
    ("PUT", "/api/v1/event-catalogue/{name:path}"): P.SEGMENTS_WRITE,
    # content (a preview renders one contact's data, possibly PII: writers only)
    ("GET", "/api/v1/content/templates"): P.CONTENT_READ,
    ("POST", "/api/v1/content/templates"): P.CONTENT_WRITE,
    ("GET", "/api/v1/content/templates/{key}"): P.CONTENT_READ,
    ("PUT", "/api/v1/content/templates/{key}"): P.CONTENT_WRITE,
    ("DELETE", "/api/v1/content/templates/{key}"): P.CONTENT_WRITE,
    ("POST", "/api/v1/content/templates/{key}/preview"): P.CONTENT_WRITE,
    ("GET", "/api/v1/content/materials"): P.CONTENT_READ,
    ("POST", "/api/v1/content/materials"): P.CONTENT_WRITE,
    ("GET", "/api/v1/content/materials/{key}"): P.CONTENT_READ,
    ("PUT", "/api/v1/content/materials/{key}"): P.CONTENT_WRITE,
    ("DELETE", "/api/v1/content/materials/{key}"): P.CONTENT_WRITE,
    ("POST", "/api/v1/content/files"): P.CONTENT_WRITE,
    ("GET", "/api/v1/content/files/{file_id}"): P.CONTENT_READ,
    ("GET", "/api/v1/content/variables"): P.CONTENT_READ,
    ("POST", "/api/v1/content/sms-count"): P.CONTENT_READ,
    ("POST", "/api/v1/content/preview"): P.CONTENT_WRITE,
    # journeys
    ("GET", "/api/v1/journeys"): P.JOURNEYS_READ,
    ("POST", "/api/v1/journeys"): P.JOURNEYS_WRITE,
    ("GET", "/api/v1/journeys/{key}"): P.JOURNEYS_READ,
    ("PUT", "/api/v1/journeys/{key}"): P.JOURNEYS_WRITE,
    ("POST", "/api/v1/journeys/{key}/start"): P.JOURNEYS_WRITE,
    ("POST", "/api/v1/journeys/{key}/pause"): P.JOURNEYS_WRITE,
    ("POST", "/api/v1/journeys/{key}/archive"): P.JOURNEYS_WRITE,
    ("GET", "/api/v1/journeys/{key}/stats"): P.JOURNEYS_READ,
    ("GET", "/api/v1/journeys/{key}/steps"): P.JOURNEYS_READ,
    ("POST", "/api/v1/journeys/{key}/enrol"): P.JOURNEYS_WRITE,
    ("GET", "/api/v1/journeys/editor/options"): P.JOURNEYS_READ,
    ("GET", "/api/v1/journeys/editor/preview"): P.JOURNEYS_READ,
    ("POST", "/api/v1/journeys/editor/validate"): P.JOURNEYS_READ,
    ("POST", "/api/v1/journeys/timelines"): P.JOURNEYS_WRITE,
    ("GET", "/api/v1/journeys/{key}/timeline"): P.JOURNEYS_READ,
    ("GET", "/api/v1/journeys/{key}/versions"): P.JOURNEYS_READ,
    ("GET", "/api/v1/journeys/{key}/versions/{version}"): P.JOURNEYS_READ,
    ("GET", "/api/v1/journeys/{key}/steps/{step}/contacts"): P.JOURNEYS_READ,
    # masked unless the caller holds pii.export (checked by the handler); audited
    ("GET", "/api/v1/journeys/{key}/steps/{step}/contacts.csv"): P.JOURNEYS_READ,
    # providers
    ("GET", "/api/v1/providers"): P.PROVIDERS_MANAGE,
    ("POST", "/api/v1/providers"): P.PROVIDERS_MANAGE,
    ("DELETE", "/api/v1/providers/{key}"): P.PROVIDERS_MANAGE,
    ("POST", "/api/v1/providers/{key}/callbacks/{kind}"): PUBLIC,
    # WeCom callbacks authenticate by WeCom's signature (msg_signature over token and body)
    ("GET", "/api/v1/providers/{key}/callbacks/events"): PUBLIC,
    ("POST", "/api/v1/providers/{key}/callbacks/events"): PUBLIC,
    ("GET", "/api/v1/wecom/callbacks"): P.PROVIDERS_MANAGE,
    ("POST", "/api/v1/wecom/callbacks/{callback_id}/retry"): P.PROVIDERS_MANAGE,
    ("GET", "/api/v1/wecom/corp-tags"): P.CHANNELS_READ,
    ("POST", "/api/v1/wecom/corp-tags/sync"): P.PROVIDERS_MANAGE,
    # analytics
    ("GET", "/api/v1/analytics"): P.ANALYTICS_READ,
    ("POST", "/api/v1/analytics/{kind}"): P.ANALYTICS_READ,
    ("POST", "/api/v1/spend"): P.ANALYTICS_WRITE,
    ("GET", "/api/v1/spend"): P.ANALYTICS_READ,
    ("POST", "/api/v1/scores/churn"): P.ANALYTICS_WRITE,
    # users, keys, audit
    ("GET", "/api/v1/users"): P.USERS_MANAGE,
    ("POST", "/api/v1/users"): P.USERS_MANAGE,
    ("PATCH", "/api/v1/users/{username}"): P.USERS_MANAGE,
    ("GET", "/api/v1/api-keys"): P.KEYS_MANAGE,
    ("POST", "/api/v1/api-keys"): P.KEYS_MANAGE,
    ("DELETE", "/api/v1/api-keys/{key_id}"): P.KEYS_MANAGE,
    ("GET", "/api/v1/audit"): P.AUDIT_READ,
    ("GET", "/api/v1/audit/verify"): P.AUDIT_READ,
    # retention (deletes personal data: admins and owners)
    ("GET", "/api/v1/retention"): P.RETENTION_MANAGE,
    # the brand's time zone: everyone who sees times may read it; who manages channels sets it
    ("GET", "/api/v1/settings/timezone"): P.DASHBOARD_READ,
    ("PUT", "/api/v1/settings/timezone"): P.CHANNELS_MANAGE,
    ("PUT", "/api/v1/retention"): P.RETENTION_MANAGE,
    ("POST", "/api/v1/retention/run"): P.RETENTION_MANAGE,
    # orders and subscriptions (周期购): booking orders is data in, like an import; refunds and
    # subscription changes change a customer's record
    ("POST", "/api/v1/orders"): P.IMPORTS_WRITE,
    ("GET", "/api/v1/orders"): P.CONTACTS_READ,
    ("GET", "/api/v1/orders/problems"): P.CONTACTS_READ,
    ("GET", "/api/v1/orders/report"): P.ANALYTICS_READ,
    ("GET", "/api/v1/orders/{source}/{order_id}"): P.CONTACTS_READ,
    ("POST", "/api/v1/orders/{source}/{order_id}/refunds"): P.CONTACTS_WRITE,
    ("GET", "/api/v1/contacts/{query}/orders"): P.CONTACTS_READ,
    ("GET", "/api/v1/subscriptions/plans"): P.CONTACTS_READ,
    ("POST", "/api/v1/subscriptions/plans"): P.CONTACTS_WRITE,
    ("PATCH", "/api/v1/subscriptions/plans/{key}"): P.CONTACTS_WRITE,
    ("GET", "/api/v1/subscriptions"): P.CONTACTS_READ,
    ("POST", "/api/v1/subscriptions"): P.CONTACTS_WRITE,
    ("POST", "/api/v1/subscriptions/renew"): P.CONTACTS_WRITE,
    ("GET", "/api/v1/subscriptions/{subscription_id}"): P.CONTACTS_READ,
    ("POST", "/api/v1/subscriptions/{subscription_id}/pause"): P.CONTACTS_WRITE,
    ("POST", "/api/v1/subscriptions/{subscription_id}/resume"): P.CONTACTS_WRITE,
    ("POST", "/api/v1/subscriptions/{subscription_id}/cancel"): P.CONTACTS_WRITE,
    ("POST", "/api/v1/subscriptions/{subscription_id}/failures"): P.CONTACTS_WRITE,
}

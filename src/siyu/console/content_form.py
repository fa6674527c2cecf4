"""The content editor's form ↔ a template document, and the content library's errors in the
reader's language.

One parser serves the save and the live preview (which posts the same form), so what the
operator previews is what is saved. The editor's fields are per channel; the smart SMS card's
buttons come from the menu designer (console/static/content.js) as JSON in one hidden field.

The content capability reports problems in English with the field's path
(``body.card.buttons[0].label: required, a non-empty string``); :func:`explain` turns the path
and the known reasons into Chinese for zh pages (卡片 · 按钮1 · 文字：必填), so no English
reaches an operator who reads Chinese.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from siyu.console.texts import TEXT, tr

WECOM = ("wecom_private", "wecom_group", "wecom_moment", "wecom_welcome")
#: Channels the editor writes, in the order the "new template" menu offers them.
EDITOR_CHANNELS = (*WECOM, "sms", "smart_sms", "email", "webhook")
_SPLIT_TAGS = re.compile(r"[,，、\s]+")
#: ``#42`` or a short number is a contact id; anything else is a phone, email or type:value.
_ID = re.compile(r"^#?(\d{1,9})$")


def contact_query(text: str) -> str:
    """What the operator typed to choose a contact, as a lookup query (``#42`` → ``id:42``)."""
    m = _ID.match(text.strip())
    return f"id:{m.group(1)}" if m else text.strip()


class FormProblem(ValueError):
    """A field of the form that cannot be read (``key`` is a console text, ``params`` fill it)."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def _text(form: Mapping[str, Any], name: str) -> str:
    return str(form.get(name) or "").replace("\r\n", "\n")


def _json(form: Mapping[str, Any], name: str, field: str, default: Any) -> Any:
    raw = _text(form, name).strip()
    if not raw:
        return default
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise FormProblem("content_bad_json", field=field, line=exc.lineno, col=exc.colno) from None


def problem_text(problem: FormProblem, lang: str) -> str:
    """The problem in ``lang`` (a ``field`` parameter is itself a text key)."""
    params = {k: tr(v, lang) if k == "field" else v for k, v in problem.params.items()}
    return tr(problem.key, lang, **params)


def _params(raw: str) -> dict[str, str]:
    """SMS template parameters, one ``name=value`` a line."""
    params: dict[str, str] = {}
    for n, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise FormProblem("content_bad_param", line=n)
        params[name.strip()] = value.strip()
    return params


def body_from_form(channel: str, form: Mapping[str, Any], attachments: list[str]) -> dict[str, Any]:
    """The channel's body from the editor's fields (empty optional fields are left out)."""
    if channel in WECOM:
        body: dict[str, Any] = {"text": _text(form, "text")}
        if attachments:
            body["attachments"] = attachments
        return body
    if channel == "sms":
        body = {
            "template_code": _text(form, "template_code").strip(),
            "params": _params(_text(form, "params")),
            "text": _text(form, "text"),
        }
        if _text(form, "sign_name").strip():
            body["sign_name"] = _text(form, "sign_name").strip()
        return body
    if channel == "smart_sms":
        card: dict[str, Any] = {
            "title": _text(form, "card_title"),
            "body": _text(form, "card_body"),
            "buttons": _json(form, "buttons", "content_f_buttons", []),
        }
        if _text(form, "card_image").strip():
            card["image"] = _text(form, "card_image").strip()
        fallback: dict[str, Any] = {"text": _text(form, "fallback_text")}
        if _text(form, "fallback_sign_name").strip():
            fallback["sign_name"] = _text(form, "fallback_sign_name").strip()
        if not form.get("fallback_links"):
            fallback["links"] = False
        return {"card": card, "fallback": fallback}
    if channel == "email":
        body = {"subject": _text(form, "subject")}
        for name in ("html", "text"):
            if _text(form, name).strip():
                body[name] = _text(form, name)
        return body
    body = {"event": _text(form, "event").strip()}
    data = _json(form, "data", "content_f_data", None)
    if data is not None:
        body["data"] = data
    return body


def document_from_form(form: Mapping[str, Any], attachments: list[str]) -> dict[str, Any]:
    """A template document (what ``POST /api/v1/content/templates`` takes) from the editor."""
    channel = _text(form, "channel").strip()
    doc: dict[str, Any] = {
        "name": _text(form, "name").strip(),
        "channel": channel,
        "tags": [t for t in _SPLIT_TAGS.split(_text(form, "tags")) if t],
        "transactional": bool(form.get("transactional")),
        "body": body_from_form(channel, form, attachments) if channel in EDITOR_CHANNELS else {},
    }
    for name in ("key", "scenario", "stage"):
        if _text(form, name).strip():
            doc[name] = _text(form, name).strip()
    variants = _json(form, "variants", "content_variants", None)
    if variants:
        doc["variants"] = variants
    return doc


def form_from_template(tpl: Mapping[str, Any]) -> dict[str, Any]:
    """The editor's field values for a saved template (the reverse of document_from_form)."""
    body = tpl.get("body") or {}
    card = body.get("card") or {}
    fallback = body.get("fallback") or {}
    params = body.get("params") or {}
    data = body.get("data")
    variants = tpl.get("variants")
    return {
        "key": tpl.get("key", ""),
        "name": tpl.get("name", ""),
        "channel": tpl.get("channel", ""),
        "scenario": tpl.get("scenario") or "",
        "stage": tpl.get("stage") or "",
        "tags": "，".join(tpl.get("tags") or []),
        "transactional": bool(tpl.get("transactional")),
        "text": body.get("text", ""),
        "attachments": list(body.get("attachments") or []),
        "template_code": body.get("template_code", ""),
        "sign_name": body.get("sign_name", ""),
        "params": "\n".join(f"{k}={v}" for k, v in params.items()),
        "card_title": card.get("title", ""),
        "card_body": card.get("body", ""),
        "card_image": card.get("image", ""),
        "buttons": json.dumps(card.get("buttons") or [], ensure_ascii=False),
        "fallback_text": fallback.get("text", ""),
        "fallback_sign_name": fallback.get("sign_name", ""),
        "fallback_links": fallback.get("links", True) is not False,
        "subject": body.get("subject", ""),
        "html": body.get("html", ""),
        "event": body.get("event", ""),
        "data": json.dumps(data, ensure_ascii=False, indent=2) if data is not None else "",
        "variants": json.dumps(variants, ensure_ascii=False, indent=2) if variants else "",
    }


def trait_labels(traits: list[str], lang: str) -> dict[str, str]:
    """Names for the variables picker: the usual traits in the reader's language, a brand's
    own traits as they are named in the data."""
    return {n: tr(f"content_trait_{n}", lang) if f"content_trait_{n}" in TEXT else n for n in traits}


# --- errors in the reader's language --------------------------------------------------------------
_PART = re.compile(r"([A-Za-z_][\w-]*)(?:\[(\d+)\])?")
_REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), k)
    for p, k in (
        (r"^variant '([^']*)': template", "content_r_no_variant"),
        (r"^unknown template '([^']*)'", "content_r_unknown_template"),
        (r"^required, a non-empty string$", "content_r_required"),
        (r"^required, an object$", "content_r_required"),
        (r"^required, a non-empty list of buttons$", "content_r_no_buttons"),
        (r"^at most (\d+) buttons on a card$", "content_r_top_buttons"),
        (r"^at most (\d+) buttons in all the menus of a card$", "content_r_sub_buttons"),
        (r"^menus nest at most 2 levels$", "content_r_levels"),
        (r"^one of ", "content_r_button_type"),
        (r"^an E\.164 number", "content_r_e164"),
        (r"^only a menu button has buttons", "content_r_not_menu"),
        (r"^a list of at most (\d+) material keys$", "content_r_attachments"),
        (r"^a material key$", "content_r_material_key"),
        (r"^a moments post cannot carry a mini-program", "content_r_moment_mini"),
        (r"^a moments post carries images, or one link", "content_r_moment_mix"),
        (r"^at most (\d+) characters$", "content_r_label"),
        (r"^unknown material '([^']*)'$", "content_r_unknown_material"),
        (r"^an email needs text or html$", "content_r_email_body"),
        (r"^an object$", "content_r_object"),
        (r"^a string or number$", "content_r_string_number"),
        (r"^template '([^']*)' already exists$", "content_r_template_exists"),
        (r"^material '([^']*)' already exists$", "content_r_material_exists"),
        (r"^material '([^']*)' is used by templates (.*)$", "content_r_material_used"),
        (r"^unknown stage ", "content_r_stage"),
        (r"^unknown channel ", "content_r_channel"),
        (r"^use 1-64 lower-case", "content_r_slug"),
        (r"^[Ss]tring should have at least 1 character", "content_r_required"),
        (r"^[Ff]ield required$", "content_r_required"),
        (r"^unexpected end of template", "content_r_unclosed"),
        (r"^unexpected '([^']*)'", "content_r_unexpected"),
        (r"^expected token", "content_r_syntax"),
        (r"unsafe|access to attribute", "content_r_unsafe"),
        (r"^loops ran more than", "content_r_limit"),
        (r"^built more than|longer than|larger than|above", "content_r_limit"),
        (r"^not a JPG or PNG", "content_r_not_image"),
        (r"^(\d+) bytes; at most|^more than \d+ MB", "content_r_too_large"),
        (r"^empty or too small", "content_r_not_image"),
        (r"^unknown uploaded file", "content_r_unknown_file"),
        (r"^a mini-program card needs a cover", "content_r_cover"),
        (r"^an image needs", "content_r_cover"),
        (r"^an http\(s\) URL$", "content_r_url"),
        (r"^required for a ", "content_r_required"),
    )
)


def place(path: str, lang: str) -> str:
    """``body.card.buttons[0].label`` → ``卡片 · 按钮1 · 文字`` (zh) / ``card › button 1 › label``."""
    out = []
    for name, index in _PART.findall(path):
        if name == "body" and not out:
            continue  # the body is the whole editor: name the field in it
        key = f"content_p_{name}"
        label = tr(key, lang) if key in _KNOWN else name
        if index:
            label = f"{label}{int(index) + 1}" if lang == "zh" else f"{label} {int(index) + 1}"
        out.append(label)
    return (" · " if lang == "zh" else " › ").join(out)


def explain(message: str, lang: str) -> str:
    """A content error (``path: reason``) in ``lang``; Chinese names the field and the problem."""
    where, sep, reason = message.partition(": ")
    if not sep or " " in where.strip():
        where, reason = "", message
    for pattern, key in _REASONS:
        m = pattern.search(reason)
        if m:
            # always formatted, so the texts' {{ }} read as braces with or without groups
            text = TEXT[key][lang].format(**{f"a{i}": g for i, g in enumerate(m.groups(), start=1)})
            break
    else:
        text = tr("content_r_other", lang)
    if lang == "en":
        return message  # the capability's own words, which name the field
    return f"{place(where, lang)}：{text}" if where else text


_KNOWN = frozenset(k for k in TEXT if k.startswith("content_p_"))

"""WeCom's callback XML: the POSTed envelope and the decrypted event, as plain data.

The event becomes a dict: leaf elements are ``str``; an element whose children are all
``<Item>`` becomes a ``list[str]`` (e.g. ``MemChangeList``); other nested elements become
dicts. Documents with a DTD are refused before parsing (no entity expansion of any kind)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class CallbackXmlError(ValueError):
    """A body that is not the XML WeCom sends."""


def _root(data: bytes | str, what: str) -> ET.Element:
    raw = data.encode() if isinstance(data, str) else data
    if _DTD.search(raw):
        raise CallbackXmlError(f"{what}: a DTD or entity declaration is not allowed")
    try:
        return ET.fromstring(raw)
    except ET.ParseError as exc:
        raise CallbackXmlError(f"{what}: not well-formed XML ({exc})") from None


def _value(element: ET.Element) -> Any:
    children = list(element)
    if not children:
        return (element.text or "").strip()
    if all(child.tag == "Item" for child in children):
        return [(child.text or "").strip() for child in children]
    return {child.tag: _value(child) for child in children}


def parse_envelope(body: bytes) -> dict[str, str]:
    """``ToUserName``, ``AgentID`` and ``Encrypt`` of a POSTed callback."""
    root = _root(body, "body")
    out = {child.tag: (child.text or "").strip() for child in root if not list(child)}
    if not out.get("Encrypt"):
        raise CallbackXmlError("body: no <Encrypt> element")
    return out


def parse_event(xml: bytes | str) -> dict[str, Any]:
    root = _root(xml, "event")
    value = _value(root)
    if not isinstance(value, dict):
        raise CallbackXmlError("event: expected child elements under <xml>")
    return value


def event_xml(fields: dict[str, Any]) -> str:
    """The inverse of :func:`parse_event` (for the emulator and tests)."""

    def emit(name: str, value: Any) -> str:
        if isinstance(value, list):
            return f"<{name}>" + "".join(f"<Item><![CDATA[{v}]]></Item>" for v in value) + f"</{name}>"
        if isinstance(value, dict):
            return f"<{name}>" + "".join(emit(k, v) for k, v in value.items()) + f"</{name}>"
        if isinstance(value, int):
            return f"<{name}>{value}</{name}>"
        return f"<{name}><![CDATA[{value}]]></{name}>"

    return "<xml>" + "".join(emit(k, v) for k, v in fields.items()) + "</xml>"

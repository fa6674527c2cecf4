"""WeCom's callback events: the receiver (WXBizMsgCrypt, inbox), the processor and the handler
registry other capabilities plug into by name.

``HANDLERS`` maps (``Event``, ``ChangeType``) to ``"module:function"``, or to a tuple of them
run in order in the same transaction (customers first, so a later handler such as referral
attribution finds the contact the first one resolved); ChangeType ``"*"`` takes every change
type of the event. The module is imported only when such an event arrives,
so a capability that is not installed (or not written yet) leaves its events ``unhandled``
rather than failing the receiver. A handler is
``handle(session, ctx, provider_key, event) -> None``, called inside the processing transaction
(it must not commit); ``event`` is the decrypted XML as a dict (see ``xml.parse_event``)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

_CUSTOMERS = "siyu.wecom.customers"
_REFERRALS = "siyu.referrals.attribution"

HANDLERS: dict[tuple[str, str], str | tuple[str, ...]] = {
    ("change_external_contact", "add_external_contact"): (
        f"{_CUSTOMERS}:handle_add_external_contact",
        f"{_REFERRALS}:handle_add_external_contact",
    ),
    ("change_external_contact", "edit_external_contact"): f"{_CUSTOMERS}:handle_edit_external_contact",
    ("change_external_contact", "del_external_contact"): f"{_CUSTOMERS}:handle_del_external_contact",
    ("change_external_contact", "del_follow_user"): (
        f"{_CUSTOMERS}:handle_del_follow_user",
        f"{_REFERRALS}:handle_del_follow_user",
    ),
    ("change_external_contact", "transfer_fail"): f"{_CUSTOMERS}:handle_transfer_fail",
    ("change_external_chat", "*"): (
        "siyu.community.callbacks:handle_change_external_chat",
        f"{_REFERRALS}:handle_change_external_chat",
    ),
    ("change_external_tag", "*"): "siyu.wecom.corp_tags:handle_change_external_tag",
}

Handler = Callable[..., None]


class NoHandler(LookupError):
    """No handler for an event (none registered, or its module is not there)."""


def handler_for(event: str, change_type: str) -> Handler:
    target = HANDLERS.get((event, change_type)) or HANDLERS.get((event, "*"))
    if target is None:
        raise NoHandler(f"no handler registered for {event}/{change_type or '-'}")
    funcs = [_load(t) for t in ((target,) if isinstance(target, str) else target)]
    if len(funcs) == 1:
        return funcs[0]

    def run_in_order(*args: Any) -> None:
        for func in funcs:
            func(*args)

    return run_in_order


def _load(target: str) -> Handler:
    module_name, _, name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):  # the handler's own module is missing
            raise NoHandler(f"{target}: module {module_name} is not available") from exc
        raise
    func: Any = getattr(module, name, None)
    if func is None:
        raise NoHandler(f"{target}: {module_name} has no {name}")
    return func  # type: ignore[no-any-return]

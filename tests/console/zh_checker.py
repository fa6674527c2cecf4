"""Finds what a Chinese reader of a console page should not see: text keys (``send_limit``,
``nav_foo``) and English words. Reusable by every browser test: ``untranslated(page)`` on a
Playwright page gives the offending words with where they are, so a new page is checked the
moment a crawl reaches it.

What is not checked, on purpose:

* elements marked ``translate="no"`` (the HTML attribute for "do not translate this"): values
  the brand typed (contact names, segment keys, event names, template bodies, URLs). Pages
  mark them so, which is also what a browser's translator honours;
* ``<script>``, ``<style>``, ``<code>``, ``<pre>``, form fields' values (input the user typed);
* brand and code names a Chinese team uses as they are (``ALLOWED``)."""

from __future__ import annotations

import re
from typing import Any

#: Names and abbreviations Chinese operations teams read in Latin letters: products, file
#: formats, methods (Shapley, CUPED), and parameter names they type as they are (state).
ALLOWED = frozenset(
    {
        "png",
        "jpg",
        "jpeg",
        "mb",
        "kb",
        "appid",
        "svg",
        "jsonl",
        "excel",
        "gbk",
        "cny",
        "cuped",
        "shapley",
        "markov",
        "sha-256",
        "cac",
        "state",
        "gmv",  # 成交总额: Chinese e-commerce teams say and write GMV
        "koc",  # key opinion consumer: the community pyramid's 9%, as Chinese teams write it
        "h5",
        "qr",
        "cdn",
        "wecom",
        "plotly.js",
        "tls",
        "ssl",
        "hmac",
        # products and platforms
        "wechat",
        "sms",
        "rfm",
        "csv",
        "xlsx",
        "json",
        "yaml",
        "api",
        "sop",
        "app",
        "id",
        "unionid",
        "openid",
        "url",
        "email",
        "smtp",
        "html",
        "sql",
        "ab",
        "a",
        "b",
        "vip",
        "ip",
        "pii",
        "pipl",
        "utc",
        "gmt",
        "duckdb",
        "postgresql",
        "sqlite",
        "siyu",
        "https",
        "http",
        "webhook",
        "dau",
        "wau",
        "mau",
        "clv",
        "roi",
        "bg",
        "nbd",
        "gamma",
        "pareto",
        "kpi",
        "ltv",
        "english",
        "douyin",
        "taobao",
        "5g",
        "ios",
        "android",
        "sdk",
        "cpu",
        "key",
        "p",
        "ok",
        "x",
        "n",
        "k",
        "m",
        "d",
        "h",
        "s",
        "tab",
    }
)
WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[_.\-][A-Za-z0-9]+)*")
KEY = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)+$")

#: Collects the text a reader sees (text nodes, titles, placeholders, button labels, chart text
#: in SVG) outside elements marked translate="no", each with the tag of its parent.
_COLLECT = """
() => {
  const out = [];
  const skip = (el) => el.closest("[translate='no'], script, style, code, pre, textarea, noscript, template");
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const el = node.parentElement;
    if (!el || skip(el)) continue;
    const text = node.textContent.trim();
    if (text) out.push([el.tagName.toLowerCase() + (el.id ? "#" + el.id : ""), text]);
  }
  const labelled = "[title], [placeholder], [aria-label], input[type=submit]";
  for (const el of document.querySelectorAll(labelled)) {
    if (skip(el)) continue;
    for (const attr of ["title", "placeholder", "aria-label"]) {
      const v = el.getAttribute(attr);
      if (v) out.push([el.tagName.toLowerCase() + "@" + attr, v]);
    }
    if (el.tagName === "INPUT" && el.type === "submit" && el.value) out.push(["input@value", el.value]);
  }
  out.push(["title", document.title]);
  return out;
}
"""


def problems_in(text: str) -> list[str]:
    """Keys and English words in one piece of text (not URLs or e-mail addresses)."""
    found = []
    # e-mail addresses, URLs and file paths (docs/analytics/activity.md) are code, not words
    code = r"\S+@\S+|https?://\S+|/console/\S*|[\w/.-]+\.(?:md|csv|json|jsonl|yaml|svg|png)\b"
    for token in WORD.findall(re.sub(code, " ", text)):
        if KEY.match(token) or (
            token.lower() not in ALLOWED
            and re.search(r"[A-Za-z]{2,}", token)
            and not re.fullmatch(r"[A-Z]\d+", token)  # short codes: A1, B2
        ):
            found.append(token)
    return found


def untranslated(page: Any) -> list[tuple[str, str, str]]:
    """(element, offending word, the text it is in) for every problem on a Playwright page."""
    out = []
    for where, text in page.evaluate(_COLLECT):
        for word in problems_in(text):
            out.append((where, word, text[:120]))
    return out

"""Markdown of artifacts to HTML that is safe to put in a dashboard page.

Artifacts are written by flow code, which may print whatever a web page or an upstream system
gave it: the markdown is rendered by markdown-it (CommonMark, tables, raw HTML allowed so
reports may use it) and the HTML is then cleaned by nh3 (the Ammonia sanitizer) to an allow
list: no script, style, iframe, form or event-handler attribute survives, links and images
keep only http(s) and mailto URLs (no `javascript:` or `data:`), and links open without
giving the page a handle on the dashboard (rel=noopener noreferrer nofollow).
"""

from __future__ import annotations

import functools

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt",
    "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark",
    "ol", "p", "pre", "s", "samp", "small", "span", "strong", "sub", "summary", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"align"},
    "th": {"align"},
    "ol": {"start"},
    "code": {"class"},
}
URL_SCHEMES = {"http", "https", "mailto"}

_renderer = MarkdownIt("commonmark", {"html": True, "linkify": False}).enable(
    ["table", "strikethrough"]
)


def sanitize_html(html: str) -> str:
    """Keep only the allow-listed tags, attributes and URL schemes."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


# Rendering costs about a millisecond per report, and a run page re-fetches its artifacts every
# few seconds while the run is active: the same texts are rendered once per process.
@functools.lru_cache(maxsize=4096)
def markdown_html(text: str) -> str:
    """Markdown to sanitised HTML."""
    return sanitize_html(_renderer.render(text))

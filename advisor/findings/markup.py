"""Markdown in pages and in exported Markdown files, with no way through it to markup or scripts.

Two kinds of text go through here: the rule reference (our own text) and what people write, such as
review comments. Both are treated as hostile.

- `render_markdown` turns Markdown into HTML for a page. Raw HTML is escaped like any other text,
  a link or an image keeps its target only when it is an absolute http(s) URL or a mailto: address
  (after the entity decoding and whitespace stripping a browser applies), an image becomes a link
  to it, and the result passes an allow-list sanitizer (nh3) that keeps only the tags and attributes
  Markdown produces.
- `markdown_inline` rewrites someone's Markdown as Markdown that is safe for whoever renders the
  exported file (GitHub, a wiki, an editor's preview): it is parsed as CommonMark and written out
  again, every character of text escaped (`<`, `>` and `&` as entities, Markdown punctuation with a
  backslash), links and images kept only for the same allowed targets, raw HTML as escaped text.
  `markdown_text` escapes plain text the same way, `markdown_code` makes a code span of it.
"""

from __future__ import annotations

import html
import re

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown.extensions import Extension
from markdown.extensions.tables import TableExtension
from markdown.treeprocessors import Treeprocessor
from markdown.util import AMP_SUBSTITUTE
from markdown_it import MarkdownIt

ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})

# What a browser ignores in a URL before it reads the scheme: C0 controls and spaces at either end,
# tabs and newlines anywhere.
_URL_EDGES = "".join(chr(c) for c in range(0x21)) + "\x7f"
_URL_IGNORED = re.compile(r"[\t\n\r]")


def safe_url(url: str) -> str | None:
    """`url` as a browser would read it, if it is an absolute http(s) URL or a mailto: address.

    Anything else is None: javascript:, vbscript:, data: and every other scheme, relative and
    protocol-relative URLs (`/x`, `//host`, `/\\host`), and schemes hidden behind entities
    (`&#106;avascript:`), whitespace or control characters.
    """
    value = html.unescape(str(url).replace(AMP_SUBSTITUTE, "&"))
    value = _URL_IGNORED.sub("", value).strip(_URL_EDGES)
    scheme, colon, rest = value.partition(":")
    if not colon or scheme.lower() not in ALLOWED_SCHEMES:
        return None
    if scheme.lower() == "mailto":
        return value if rest else None
    # http(s) with a host: not `https:/x`, `https:x` or `https:///x` (relative to the page's host).
    if not rest.startswith("//") or rest[2:3] in ("", "/", "\\"):
        return None
    return value


# HTML for pages ----------------------------------------------------------------------------------


class _NoRawHtml(Extension):
    def extendMarkdown(self, md):
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_SafeLinks(md), "safe_links", 0)


class _SafeLinks(Treeprocessor):
    """Links keep only allowed targets; an image becomes a link to it (no remote image loads)."""

    def run(self, root):
        for el in root.iter():
            if el.tag == "img":
                target, text = safe_url(el.get("src", "")), el.get("alt") or el.get("src", "")
                el.attrib.clear()
                el.tag, el.text = ("a", text) if target else ("span", text)
                if target:
                    el.set("href", target)
            elif el.tag == "a":
                target = safe_url(el.get("href", ""))
                if target:
                    el.set("href", target)
                else:
                    el.attrib.clear()
                    el.tag = "span"


_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "span", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
# Table alignment as the `align` attribute: the Content-Security-Policy refuses style attributes.
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "code": {"class"}, "th": {"align"}, "td": {"align"}}


def _sanitize(fragment: str) -> str:
    return nh3.clean(
        fragment,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=set(ALLOWED_SCHEMES),
        url_relative="deny",
        link_rel="nofollow noopener noreferrer",
    )


def render_markdown(text: str, *, hard_breaks: bool = False) -> SafeString:
    """Markdown as HTML for a page; `hard_breaks` keeps single line breaks (for comments)."""
    extensions = ["fenced_code", TableExtension(use_align_attribute=True), "sane_lists", _NoRawHtml()]
    if hard_breaks:
        extensions.append("nl2br")
    fragment = markdown.markdown(str(text), extensions=extensions, output_format="html")
    return mark_safe(_sanitize(fragment))  # noqa: S308 - escaped, link-checked and sanitized above


# Markdown for exported files ---------------------------------------------------------------------

# Markdown punctuation that could start inline structure anywhere in a line: code spans, emphasis,
# links and images, table cells, strikethrough, attribute lists (`{onclick=...}` where the renderer
# has them), math and superscript. Escaped with a backslash; `<`, `>` and `&` become entities.
_MD_PUNCT = re.compile(r"([\\`*_\[\]{}|~^$])")
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def _escape(value: str) -> str:
    value = "".join(_MD_ENTITIES.get(ch, ch) for ch in value.replace("\r", " ").replace("\n", " "))
    return _MD_PUNCT.sub(r"\\\1", value)


def markdown_text(text: object) -> str:
    """Plain text as Markdown that renders as exactly that text, on one line.

    `<`, `>` and `&` become entities (no raw HTML, autolink or entity can form), Markdown
    punctuation is backslash-escaped (no link, image, emphasis, code span or table cell can form).
    """
    return _escape(" ".join(str(text).split()))


def markdown_code(text: object, *, table: bool = False) -> str:
    """A code span of `text` on one line; in a table cell `|` is escaped as GFM requires."""
    value = " ".join(str(text).split())
    if table:
        value = value.replace("|", "\\|")
    longest = max((len(m) for m in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") or not value.strip() else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark")
    # Every link the parser finds is kept as a link token; `safe_url` then decides, so a refused
    # target loses its link instead of surviving as literal link syntax.
    md.validateLink = lambda url: True
    return md


_PARSER = _parser()


def _inline(children, out: list[str], *, table: bool) -> None:
    kept: list[str | None] = []  # per open link: its target, or None when it was dropped
    for tok in children:
        if tok.type == "text":
            out.append(_escape(tok.content))
        elif tok.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif tok.type == "code_inline":
            out.append(markdown_code(tok.content, table=table))
        elif tok.type == "html_inline":
            out.append(_escape(tok.content))
        elif tok.type in ("em_open", "em_close"):
            out.append("*")
        elif tok.type in ("strong_open", "strong_close"):
            out.append("**")
        elif tok.type == "link_open":
            target = safe_url(tok.attrs.get("href", ""))
            kept.append(target)
            if target:
                out.append("[")
        elif tok.type == "link_close":
            target = kept.pop() if kept else None
            if target:
                out.append(f"]({_destination(target)})")
        elif tok.type == "image":
            alt = markdown_text(tok.content)
            target = safe_url(tok.attrs.get("src", ""))
            # No remote image loads from an export; inside a link, the alt text is the link's text.
            if target and not any(kept):
                out.append(f"[{alt or markdown_text(target)}]({_destination(target)})")
            else:
                out.append(alt)
        elif tok.content:
            out.append(_escape(tok.content))


def _destination(url: str) -> str:
    """A link destination every renderer reads the same: nothing in it ends it early, and `&` is
    written `&amp;` (CommonMark decodes entities in destinations, so it reads back as `&`)."""
    encoded = re.sub(r"[\s()<>\[\]\\`\"'|]", lambda m: f"%{ord(m.group()):02X}", url)
    return encoded.replace("&", "&amp;")


def markdown_inline(text: object, *, table: bool = False) -> str:
    """Someone's Markdown rewritten as safe Markdown on one line (see the module docstring)."""
    out: list[str] = []
    for tok in _PARSER.parse(str(text)):
        if tok.type == "inline":
            _inline(tok.children or [], out, table=table)
        elif tok.type in ("fence", "code_block"):
            out.append(markdown_code(tok.content, table=table))
        elif tok.type == "html_block":
            out.append(markdown_text(tok.content))
        if tok.type.endswith("_close") or tok.type in ("fence", "code_block", "html_block", "hr"):
            out.append(" ")
    return " ".join("".join(out).split())

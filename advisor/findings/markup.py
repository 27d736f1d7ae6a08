"""Markdown for the rule reference, rendered with raw HTML switched off.

Rule docs are our own text, but they are rendered into pages as HTML, so no path through them may
inject markup: raw HTML is escaped like any other text and links keep only harmless schemes.
"""

import markdown
from django.utils.safestring import SafeString, mark_safe
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

_SAFE_SCHEMES = ("http://", "https://", "mailto:", "/", "#")


class _NoRawHtml(Extension):
    def extendMarkdown(self, md):
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_SafeLinks(md), "safe_links", 0)


class _SafeLinks(Treeprocessor):
    def run(self, root):
        for el in root.iter():
            for attr in ("href", "src"):
                value = el.get(attr)
                if value is not None and not value.strip().lower().startswith(_SAFE_SCHEMES):
                    del el.attrib[attr]


def render_markdown(text: str) -> SafeString:
    html = markdown.markdown(
        text, extensions=["fenced_code", "tables", "sane_lists", _NoRawHtml()], output_format="html"
    )
    return mark_safe(html)  # noqa: S308 - raw HTML is escaped by _NoRawHtml above

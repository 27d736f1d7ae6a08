"""Hostile Markdown: raw HTML is escaped and only http(s) and mailto: links survive, on the pages
(review page, printable report, rule reference) and in the exported Markdown file.

The exported file is checked the way a reader would meet it: rendered by two permissive Markdown
renderers (raw HTML on, every link scheme accepted), whose HTML must have no tag outside what
Markdown makes, no event handler and no link or image to anything but http(s) and mailto:.
"""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import markdown
import pytest
from django.utils import timezone
from markdown_it import MarkdownIt

from advisor.accounts.models import ApiToken
from advisor.findings.markup import (
    markdown_code,
    markdown_inline,
    markdown_text,
    render_markdown,
    safe_url,
)
from advisor.registry.models import Team
from advisor.reviews import services

HOSTILE = {
    "script": "<script>alert(1)</script>",
    "img onerror": "<img src=x onerror=alert(1)>",
    "svg onload": "<svg/onload=alert(1)>",
    "iframe": '<iframe src="javascript:alert(1)"></iframe>',
    "html block": '<div onclick="alert(1)">\nclick\n</div>',
    "javascript link": "[x](javascript:alert(1))",
    "mixed case": "[x](JaVaScRiPt:alert(1))",
    "leading space": "[x]( javascript:alert(1))",
    "angle destination": "[x](<javascript:alert(1)>)",
    "vbscript": "[x](vbscript:msgbox(1))",
    "data html": "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "data image": "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "javascript image": "![x](javascript:alert(1))",
    "autolink": "<javascript:alert(1)>",
    "autolink data": "<data:text/html,<script>alert(1)</script>>",
    "reference": "[x][evil]\n\n[evil]: javascript:alert(1)",
    "reference with title": '[x]\n\n[x]: JAVASCRIPT:alert(1) "title"',
    "decimal entity": "[x](&#106;avascript:alert(1))",
    "hex entity": "[x](&#x6A;avascript&#x3A;alert(1))",
    "named entity colon": "[x](javascript&colon;alert(1))",
    "tab inside": "[x](java&#9;script:alert(1))",
    "newline entity": "[x](java&#10;script:alert(1))",
    "double encoded": "[x](&amp;#106;avascript:alert(1))",
    "protocol relative": "[x](//evil.example/)",
    "backslash relative": "[x](/\\evil.example/)",
    "relative path": "[x](../admin/)",
    "https without host": "[x](https:evil.example)",
    "title breakout": '[x](https://ok.example "a\\" onmouseover=\\"alert(1))',
    "attr list": "*x*{onclick=alert(1)}",
    "entity text": "&#60;script&#62;alert(1)&#60;/script&#62;",
    "nested image link": "[![a](javascript:alert(1))](data:text/html,x)",
    "code fence": "```\n<script>alert(1)</script>\n```",
    "backtick breakout": "`` ` <img src=x onerror=alert(1)> ` ``",
}

ALLOWED = {
    "https link": (
        "[docs](https://learn.microsoft.com/azure/?a=1&b=2)",
        "https://learn.microsoft.com/azure/",
    ),
    "http autolink": ("<http://example.com/x>", "http://example.com/x"),
    "mailto": ("[ask](mailto:arch@contoso.example)", "mailto:arch@contoso.example"),
    "email autolink": ("<arch@contoso.example>", "mailto:arch@contoso.example"),
    "parentheses": ("[w](https://en.example/wiki/A_(b))", "https://en.example/wiki/A_"),
}

# What Markdown produces (and the permissive renderers' own extras); nothing that runs or loads.
SAFE_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "span", "table", "thead", "tbody", "tr", "th", "td", "img", "s", "del",
}  # fmt: skip
LINK = re.compile(r"^(https?://[^/\\]|mailto:.)", re.I)


class _Scan(HTMLParser):
    """Tags, attribute names and link targets, decoded as a browser decodes them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs, self.urls, self.styles = set(), set(), [], set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            self.attrs.add(name)
            if name == "style":
                self.styles.add(value)
            if name in ("href", "src", "action", "formaction", "srcset", "xlink:href"):
                self.urls.append(value or "")


def _scan(html: str) -> _Scan:
    scan = _Scan()
    scan.feed(html)
    scan.close()
    return scan


def _assert_inert(html: str, label: str) -> _Scan:
    scan = _scan(html)
    assert scan.tags <= SAFE_TAGS, f"{label}: tags {scan.tags - SAFE_TAGS} in {html!r}"
    assert not {a for a in scan.attrs if a.startswith("on")}, f"{label}: {html!r}"
    # Table alignment is the only style Markdown writes.
    assert all(re.fullmatch(r"text-align: ?(left|right|center);?", v or "") for v in scan.styles), scan.styles
    for url in scan.urls:
        # Browsers strip these before reading the scheme.
        cleaned = re.sub(r"[\t\n\r]", "", url).strip("".join(chr(c) for c in range(0x21)))
        assert LINK.match(cleaned), f"{label}: link to {url!r} in {html!r}"
    return scan


def _permissive_renderings(md: str) -> dict[str, str]:
    """The exported Markdown as readers' tools would render it, raw HTML and every scheme allowed."""
    commonmark = MarkdownIt("commonmark", {"html": True})
    gfm = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    for parser in (commonmark, gfm):
        parser.validateLink = lambda url: True
    return {
        "commonmark": commonmark.render(md),
        "gfm tables": gfm.render(md),
        "python-markdown": markdown.markdown(md, extensions=["tables", "attr_list"]),
    }


# Links -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/a?b=1&c=2", "https://example.com/a?b=1&c=2"),
        ("HTTP://EXAMPLE.COM", "HTTP://EXAMPLE.COM"),
        ("  https://example.com  ", "https://example.com"),
        ("mailto:a@example.com", "mailto:a@example.com"),
        ("&#104;ttps://example.com", "https://example.com"),
        ("javascript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        ("\x01javascript:alert(1)", None),
        ("java\tscript:alert(1)", None),
        ("&#106;avascript:alert(1)", None),
        ("&#x6A;avascript&#x3A;alert(1)", None),
        ("javascript&colon;alert(1)", None),
        ("&amp;#106;avascript:alert(1)", None),
        ("vbscript:msgbox", None),
        ("data:text/html,<script>", None),
        ("file:///etc/passwd", None),
        ("ftp://example.com", None),
        ("/admin/", None),
        ("//evil.example", None),
        ("/\\evil.example", None),
        ("#top", None),
        ("relative/path", None),
        ("https:evil.example", None),
        ("https:/evil.example", None),
        ("https:///evil.example", None),
        ("https://", None),
        ("mailto:", None),
        ("", None),
    ],
)
def test_only_absolute_http_and_mailto_urls_are_safe(url, expected):
    assert safe_url(url) == expected


# Rendered HTML -----------------------------------------------------------------------------------


@pytest.mark.parametrize("hard_breaks", [False, True], ids=["docs", "comments"])
@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_rendered_markdown_has_no_live_html_or_script_links(text, hard_breaks):
    html = render_markdown(text, hard_breaks=hard_breaks)
    scan = _assert_inert(html, text)
    assert "img" not in scan.tags  # images become links: nothing loads from a comment
    assert "alert(1)</script>" not in html and "<script" not in html


def test_raw_html_shows_as_text():
    html = render_markdown("<script>alert(1)</script> and <img src=x onerror=alert(1)>")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


@pytest.mark.parametrize(("text", "href"), ALLOWED.values(), ids=ALLOWED.keys())
def test_allowed_links_stay_links(text, href):
    html = render_markdown(text)
    scan = _assert_inert(html, text)
    assert any(u.startswith(href) for u in scan.urls), html
    assert 'rel="nofollow noopener noreferrer"' in html


def test_a_refused_link_keeps_its_text():
    assert render_markdown("see [the docs](javascript:alert(1))") == "<p>see <span>the docs</span></p>"


def test_the_rule_reference_still_renders_tables_code_and_links():
    html = render_markdown(
        "| a | b |\n|:--|--:|\n| 1 | 2 |\n\n```yaml\nkey: <x>\n```\n\n1. one\n2. two\n\n"
        "**Sources.** <https://learn.microsoft.com/azure/>"
    )
    assert '<th align="left">a</th>' in html and '<td align="right">2</td>' in html
    assert "style=" not in html  # the Content-Security-Policy would refuse it
    assert '<pre><code class="language-yaml">key: &lt;x&gt;' in html
    assert "<ol>" in html and 'href="https://learn.microsoft.com/azure/"' in html


# Markdown for exported files -----------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_exported_markdown_renders_inert_everywhere(text):
    md = markdown_inline(text)
    assert "\n" not in md
    # Outside code spans nothing can open a tag or an autolink.
    assert not re.search(r"[<>]", re.sub(r"(`+).*?\1", "", md)), md
    for renderer, html in _permissive_renderings(f"- **rita**: {md}").items():
        scan = _assert_inert(html, f"{renderer} of {md!r}")
        assert "img" not in scan.tags, f"{renderer}: {html!r}"


@pytest.mark.parametrize(("text", "href"), ALLOWED.values(), ids=ALLOWED.keys())
def test_exported_markdown_keeps_allowed_links(text, href):
    md = markdown_inline(text)
    for renderer, html in _permissive_renderings(md).items():
        scan = _assert_inert(html, f"{renderer} of {md!r}")
        assert any(u.startswith(href) for u in scan.urls), f"{renderer}: {html!r}"


def test_exported_markdown_keeps_the_words_and_the_formatting():
    md = markdown_inline("Use **a TTL** on `cart:<id>` | see _this_\nand [docs](https://example.com/a_(b))")
    assert md == ("Use **a TTL** on `cart:<id>` \\| see *this* and [docs](https://example.com/a_%28b%29)")
    assert markdown_inline("[x](javascript:alert(1)) <b>bold</b> &#60;") == "x &lt;b&gt;bold&lt;/b&gt; &lt;"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a|b", "a\\|b"),
        ("<script>", "&lt;script&gt;"),
        ("[x](javascript:alert(1))", "\\[x\\](javascript:alert(1))"),
        ("&#106;", "&amp;#106;"),
        ("*a* _b_ `c` ~d~", "\\*a\\* \\_b\\_ \\`c\\` \\~d\\~"),
        ("two\nlines", "two lines"),
    ],
)
def test_plain_text_is_escaped_for_markdown(text, expected):
    assert markdown_text(text) == expected
    for renderer, html in _permissive_renderings(markdown_text(text)).items():
        _assert_inert(html, renderer)
        assert "<a" not in html and "<code" not in html and "<em" not in html, f"{renderer}: {html}"


@pytest.mark.parametrize(
    ("text", "table", "expected"),
    [
        ("prod:cart:<id>", False, "`prod:cart:<id>`"),
        ("a`b", False, "``a`b``"),
        ("`a`", False, "`` `a` ``"),
        ("a|b", True, "`a\\|b`"),
    ],
)
def test_code_spans_cannot_be_broken_out_of(text, table, expected):
    assert markdown_code(text, table=table) == expected


# The review pages and the export, end to end -------------------------------------------------------


@pytest.fixture
def review(db, member, reviewer):
    catalog = Team.objects.get(name="catalog")
    expires = timezone.localdate() + dt.timedelta(days=30)
    asks = [
        services.WaiverAsk(
            f.rule, f.target, "<script>alert('reason')</script> [r](javascript:alert(2))", expires
        )
        for f in services.blocking_findings(services.team_findings(catalog))
    ]
    return services.review_submit(team=catalog, user=member, waivers=asks)


def _comment_bodies(html: str) -> list[str]:
    """The inner HTML of every comment on a page."""

    class Bodies(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=False)
            self.depth, self.found, self.current = 0, [], []

        def handle_starttag(self, tag, attrs):
            if self.depth:
                self.depth += tag != "br"
                self.current.append(self.get_starttag_text())
            elif tag == "div" and "comment-body" in (dict(attrs).get("class") or ""):
                self.depth, self.current = 1, []

        def handle_endtag(self, tag):
            if self.depth:
                self.depth -= 1
                if self.depth == 0:
                    self.found.append("".join(self.current))
                else:
                    self.current.append(f"</{tag}>")

        def handle_data(self, data):
            if self.depth:
                self.current.append(data)

        def handle_entityref(self, name):
            self.handle_data(f"&{name};")

        def handle_charref(self, name):
            self.handle_data(f"&#{name};")

    parser = Bodies()
    parser.feed(html)
    return parser.found


@pytest.mark.django_db
def test_hostile_comments_are_inert_on_the_pages_and_in_the_export(client, review, reviewer, member, viewer):
    token = ApiToken.issue(user=member, name="t")[1]
    finding = review.findings[0]
    for i, text in enumerate(HOSTILE.values()):
        if i % 3 == 0:  # through the page, on the review
            client.force_login(reviewer)
            assert client.post(f"/reviews/{review.pk}/comment/", {"body": text}).status_code == 302
        elif i % 3 == 1:  # through the page, on a finding
            client.force_login(reviewer)
            data = {"body": text, "finding_rule": finding["rule"], "finding_target": finding["target"]}
            assert client.post(f"/reviews/{review.pk}/comment/", data).status_code == 302
        else:  # through the API
            response = client.post(
                f"/api/reviews/{review.pk}/comments",
                {"body": text},
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {token}",
            )
            assert response.status_code == 201, response.content
    assert review.comments.count() == len(HOSTILE)
    client.force_login(member)
    assert (
        client.post(
            f"/reviews/{review.pk}/comment/", {"body": "See [docs](https://example.com/ttl)"}
        ).status_code
        == 302
    )

    client.force_login(viewer)
    for url in (f"/reviews/{review.pk}/", f"/reviews/{review.pk}/report/"):
        page = client.get(url).content.decode()
        bodies = _comment_bodies(page)
        assert len(bodies) == len(HOSTILE) + 1, url
        for body in bodies:
            _assert_inert(body, f"{url}: {body}")
        assert 'href="https://example.com/ttl"' in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<script>alert" not in page and "onerror=alert" not in page.replace("onerror=alert(1)&gt;", "")

    response = client.get(f"/reviews/{review.pk}/report.md")
    md = response.content.decode()
    comments = md.split("## Comments", 1)[1]
    assert comments.count("\n- **") == len(HOSTILE) + 1
    assert "[docs](https://example.com/ttl)" in comments
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in comments
    # The waiver request's reason is plain text in a table cell.
    assert "&lt;script&gt;alert('reason')&lt;/script&gt; \\[r\\](javascript:alert(2))" in md
    outside_code = re.sub(r"(`+).*?\1", "", md)
    assert "<script" not in outside_code and "<img" not in outside_code
    assert not re.search(r"(?<!\\)\]\(\s*javascript", md, re.I)  # `\](` is escaped text, not a link
    for renderer, html in _permissive_renderings(md).items():
        scan = _assert_inert(html, renderer)
        assert "img" not in scan.tags
        assert "https://example.com/ttl" in scan.urls

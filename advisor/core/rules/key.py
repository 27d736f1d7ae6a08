"""KEY: key design rules (namespacing, versioning, personal data, ownership)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from advisor.core.findings import Finding, Severity
from advisor.core.keyspace import ENVIRONMENT_WORDS, pattern_environment_word
from advisor.core.patterns import Pattern, Placeholder, intersection_witness
from advisor.core.rules.base import DesignContext, Rule, namespace_target

_VERSION_SEGMENT = re.compile(r"v\d+")
# Case changes: "customerEmail" -> customer, Email; "userIPAddress" -> user, IP, Address.
_CASE_SPLIT = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def name_words(name: str | None) -> list[str]:
    """The lower-case words of a placeholder name, split on `_`, `-` and case changes."""
    if not name:
        return []
    words: list[str] = []
    for part in re.split(r"[_-]+", name):
        words.extend(w.lower() for w in _CASE_SPLIT.split(part) if w)
    return words


def _placeholder_label(p: Placeholder) -> str:
    return f"<{p.name or '*'}:{p.kind}>"


class PatternRule(Rule):
    """A key rule that the pattern alone decides: no other field, namespace or instance matters.

    `pattern_problem` holds the rule's logic. `check` runs it over a design's namespaces, and
    `check_pattern` over a pattern that belongs to no namespace yet (the registry's live check of
    the pattern field), so both say the same thing.
    """

    def pattern_problem(self, text: str, pattern: Pattern, threshold: Callable[[str], float]) -> str | None:
        """The finding's message about `text` (parsed: `pattern`), or None when there is nothing to say."""
        raise NotImplementedError

    def check_pattern(
        self, text: str, pattern: Pattern, threshold: Callable[[str], float], target: str
    ) -> Iterable[Finding]:
        message = self.pattern_problem(text, pattern, threshold)
        if message is not None:
            yield self.finding(target, message)

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for ns in ctx.design.namespaces:
            yield from self.check_pattern(
                ns.pattern, ctx.pattern(ns), ctx.threshold, namespace_target(ns.name)
            )


class KEY001(PatternRule):
    """The key pattern is not namespaced: fewer than two literal segments before the first placeholder.

    **Why it matters.** Keys should be predictable and namespaced
    (`environment:service:entity:version:id`). A bare `product:<id>` says nothing about which
    service owns it, collides easily with another team's `product:` keys on a shared instance, and
    cannot be invalidated or diagnosed as a group.

    **What to do instead.** Put at least two literal segments (service and entity, ideally
    environment, service, entity and version) in front of the variable part.

    **Bad**

    ```yaml
    pattern: "product:<id:int>"
    ```

    **Good**

    ```yaml
    pattern: "prod:catalog:product:v3:<id:int>"
    ```

    **Sources.** <https://redis.io/docs/latest/develop/using-commands/keyspace/> (Redis has no
    namespaces: avoid collisions with a key schema),
    <https://learn.microsoft.com/azure/architecture/best-practices/caching>.
    """

    id = "KEY001"
    title = "Key pattern is not namespaced"
    default_severity = Severity.medium
    remediation = (
        "Prefix the key with at least two literal segments naming the owner and the entity, "
        "e.g. `prod:catalog:product:v3:<id:int>` instead of `product:<id:int>`."
    )

    def pattern_problem(self, text: str, pattern: Pattern, threshold: Callable[[str], float]) -> str | None:
        prefix = pattern.literal_prefix
        if len(prefix) >= 2:
            return None
        shown = ":".join(prefix) if prefix else "(none)"
        return (
            f"Pattern `{text}` has {len(prefix)} literal segment(s) before its first "
            f"placeholder ({shown}); at least 2 are needed to namespace it."
        )


class KEY002(PatternRule):
    """No literal segment of the key pattern is a schema version such as `v3`.

    **Why it matters.** Reusing a key after changing the serialized value contract makes new code
    read old values (and old code read new ones) during every deployment. Versioned keys let a
    deployment switch to `v4` while old `v3` keys simply expire; that is simpler and safer than
    deleting every old key.

    **What to do instead.** Add a literal version segment (`v` followed by digits) and bump it
    whenever the value format changes incompatibly.

    **Bad**

    ```yaml
    pattern: "prod:catalog:product:<id:int>"
    ```

    **Good**

    ```yaml
    pattern: "prod:catalog:product:v3:<id:int>"
    ```

    **Sources.** <https://learn.microsoft.com/azure/architecture/best-practices/caching> (keeping
    cached data consistent with its source),
    <https://redis.io/docs/latest/develop/using-commands/keyspace/>.
    """

    id = "KEY002"
    title = "Key pattern has no schema version"
    default_severity = Severity.low
    remediation = (
        "Add a literal version segment such as `v1` (e.g. `prod:catalog:product:v1:<id:int>`) and "
        "bump it when the value format changes."
    )

    def pattern_problem(self, text: str, pattern: Pattern, threshold: Callable[[str], float]) -> str | None:
        if any(_is_version_segment(seg) for seg in pattern.segments):
            return None
        return f"Pattern `{text}` has no literal version segment (`v` followed by digits)."


def _is_version_segment(segment: tuple) -> bool:
    if any(isinstance(t, Placeholder) for t in segment):
        return False
    return _VERSION_SEGMENT.fullmatch("".join(t.text for t in segment)) is not None


PERSONAL_DATA_WORDS = frozenset(
    "email mail phone mobile msisdn ssn name firstname lastname fullname address street ip dob "
    "birthdate birthday passport iban card pan".split()
)


class KEY003(PatternRule):
    """A placeholder's name says the key carries raw personal data (an e-mail, a phone number…).

    **Why it matters.** Raw personally identifiable information must stay out of keys: key names
    show up in `SCAN` output, monitoring, slow logs, diagnostics and exports that are not reviewed
    like the values are, and they cannot be encrypted. Keys, values, logs and diagnostic tooling
    all require data-classification review.

    **What to do instead.** Key by an opaque identifier (the user id) or by a keyed digest of the
    value and declare the placeholder as kind `hash`.

    **Bad**

    ```yaml
    pattern: "prod:identity:user-by-email:v1:<email>"
    ```

    **Good**

    ```yaml
    pattern: "prod:identity:user-by-email:v1:<email_hmac:hash>"
    ```

    **Sources.** <https://learn.microsoft.com/azure/architecture/best-practices/caching> (security
    considerations for cached data), <https://redis.io/docs/latest/develop/using-commands/keyspace/>
    (key a large or sensitive value by its digest).
    """

    id = "KEY003"
    title = "Raw personal data in key"
    default_severity = Severity.high
    remediation = (
        "Key by an opaque id or by a keyed digest (HMAC) of the personal value, declared as kind "
        "`hash` (e.g. `<email_hmac:hash>`); keep the personal value, if needed at all, in the value."
    )

    def pattern_problem(self, text: str, pattern: Pattern, threshold: Callable[[str], float]) -> str | None:
        hits = []
        for p in pattern.placeholders:
            if p.kind == "hash":
                continue
            words = sorted(PERSONAL_DATA_WORDS.intersection(name_words(p.name)))
            if words:
                hits.append(f"{_placeholder_label(p)} ({', '.join(words)})")
        if not hits:
            return None
        return f"Pattern `{text}` puts raw personal data in the key: {'; '.join(hits)}."


FREE_TEXT_WORDS = frozenset("query search term url path text filter sql input".split())


class KEY004(PatternRule):
    """A key component is unbounded free text (a search query, a URL, an `any` or `*` placeholder).

    **Why it matters.** Unbounded user-provided key components make the key space, and memory,
    grow with whatever users type; keys get long, reuse is low (a poor hit ratio) and a caller can
    flood the cache with distinct keys. Such text may also carry personal data.

    The rule fires for a placeholder of kind `any`, for an anonymous `*` (any text up to the next
    `:`, and nothing in the design says what bounds it), and for a placeholder whose name contains
    one of the words query, search, term, url, path, text, filter, sql or input, unless its kind
    is `hash`.

    **What to do instead.** Normalise the input and key by a digest of it, declared as kind `hash`,
    or by a bounded identifier.

    **Bad**

    ```yaml
    pattern: "prod:search:results:v2:<query>"
    ```

    **Good**

    ```yaml
    pattern: "prod:search:results:v2:<query_sha256:hash>"
    ```

    **Sources.** <https://redis.io/docs/latest/develop/using-commands/keyspace/> (very long keys:
    key by a digest instead),
    <https://learn.microsoft.com/azure/architecture/best-practices/caching>.
    """

    id = "KEY004"
    title = "Unbounded free text in key"
    default_severity = Severity.medium
    remediation = (
        "Normalise the text and key by a digest of it declared as kind `hash` "
        "(e.g. `<query_sha256:hash>`), or by a bounded identifier."
    )

    def pattern_problem(self, text: str, pattern: Pattern, threshold: Callable[[str], float]) -> str | None:
        hits = []
        for p in pattern.placeholders:
            if p.kind == "hash":
                continue
            words = sorted(FREE_TEXT_WORDS.intersection(name_words(p.name)))
            if p.kind == "any":
                hits.append(f"{_placeholder_label(p)} (kind any)")
            elif p.name is None:  # `*`: the only placeholder without a name
                hits.append("`*` (anonymous: any text, nothing bounds it)")
            elif words:
                hits.append(f"{_placeholder_label(p)} ({', '.join(words)})")
        if not hits:
            return None
        return f"Pattern `{text}` has unbounded free-text components: {'; '.join(hits)}."


class KEY005(Rule):
    """Two namespaces on the same instance have patterns that can match the same key.

    **Why it matters.** Ambiguous keys shared by unrelated services are a classic cache bug: when
    one key can belong to two namespaces, nobody knows who owns it, one service can read the
    other's values, and invalidating or expiring one namespace hits the other. The check is exact:
    it decides whether the two pattern languages intersect and shows a key both patterns match.
    High when the namespaces belong to different teams, medium within one team.

    **What to do instead.** Give each namespace a distinct literal segment (service, entity,
    version) so that no key can match both patterns.

    **Bad**

    ```yaml
    - name: product-cache
      pattern: "prod:catalog:<entity>:<id:int>"
    - name: product-stock
      pattern: "prod:catalog:product:<id:int>"
    ```

    **Good**

    ```yaml
    - name: product-cache
      pattern: "prod:catalog:product:v3:<id:int>"
    - name: product-stock
      pattern: "prod:catalog:stock:v1:<id:int>"
    ```

    **Sources.** <https://redis.io/docs/latest/develop/using-commands/keyspace/> (Redis has no
    namespaces: take care to avoid name collisions).
    """

    id = "KEY005"
    title = "Key patterns overlap"
    default_severity = Severity.medium
    remediation = (
        "Make the patterns disjoint: give each namespace its own literal segment (service, entity or "
        "version) so that no key can match both."
    )

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for inst in ctx.design.instances:
            namespaces = sorted(ctx.namespaces_on(inst.name), key=lambda ns: ns.name)
            for a, b in _candidate_pairs(ctx, namespaces):
                witness = intersection_witness(ctx.pattern(a), ctx.pattern(b))
                if witness is None:
                    continue
                other_team = a.team != b.team
                teams = f"teams {a.team} and {b.team}" if other_team else f"both of team {a.team}"
                yield self.finding(
                    namespace_target(a.name),
                    f"Patterns `{a.pattern}` ({a.name}) and `{b.pattern}` ({b.name}) on instance "
                    f"{inst.name} both match the key `{witness}` ({teams}).",
                    severity=Severity.high if other_team else Severity.medium,
                    related=[namespace_target(b.name)],
                )


def _candidate_pairs(ctx: DesignContext, namespaces: list) -> Iterable[tuple]:
    """Pairs that survive two cheap, exact tests, each pair ordered by namespace name.

    Every key of a pattern starts with its literal prefix segments, so two patterns can only share
    a key when one prefix extends the other. Sorted by prefix, the namespaces a prefix is compatible
    with are the ones right after it that extend it, which keeps the search near-linear on real
    designs instead of trying every pair. Then the segment shapes must agree (see `_shape`).
    """
    prefixes = {ns.name: ctx.pattern(ns).literal_prefix for ns in namespaces}
    shapes: dict[str, tuple | None] = {}  # most namespaces never meet a candidate: shape lazily

    def shape(ns) -> tuple | None:
        if ns.name not in shapes:
            shapes[ns.name] = _shape(ctx.pattern(ns))
        return shapes[ns.name]

    by_prefix = sorted(namespaces, key=lambda ns: prefixes[ns.name])
    for i, a in enumerate(by_prefix):
        prefix = prefixes[a.name]
        n = len(prefix)
        for b in by_prefix[i + 1 :]:
            if prefixes[b.name][:n] != prefix:
                break
            if _shapes_compatible(shape(a), shape(b)):
                yield (a, b) if a.name < b.name else (b, a)


def _shape(pattern: Pattern) -> tuple[str | None, ...] | None:
    """Each segment's literal text (None where a placeholder makes it vary).

    Only `any` can span a `:`, so without it every key has exactly these segments; None when the
    pattern has an `any` and so no fixed shape.
    """
    if any(p.kind == "any" for p in pattern.placeholders):
        return None
    return tuple(
        None if any(isinstance(t, Placeholder) for t in seg) else "".join(t.text for t in seg)
        for seg in pattern.segments
    )


def _shapes_compatible(a: tuple | None, b: tuple | None) -> bool:
    if a is None or b is None:
        return True
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b, strict=True))


class KEY006(Rule):
    """The key's first segment names another environment than the instance's.

    **Why it matters.** Keys carry the environment (`prod:…`) so that environments stay separate.
    A `staging:` key on a prod instance means staging code talks to production data (or a pattern
    was copied without thought); either way invalidation, monitoring and access reviews go wrong.

    **What to do instead.** Use the instance's own environment in the key, and give the other
    environment its own instance.

    **Bad**

    ```yaml
    instances:
      - {name: prod-cache, environment: prod, ...}
    namespaces:
      - {name: carts, instance: prod-cache, pattern: "staging:checkout:cart:v1:<id:int>", ...}
    ```

    **Good**

    ```yaml
    namespaces:
      - {name: carts, instance: prod-cache, pattern: "prod:checkout:cart:v1:<id:int>", ...}
    ```

    **Sources.** <https://learn.microsoft.com/azure/architecture/best-practices/caching> (security:
    separate the data of different environments and applications),
    <https://redis.io/docs/latest/develop/using-commands/keyspace/>.
    """

    id = "KEY006"
    title = "Key names another environment"
    default_severity = Severity.medium

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for ns in ctx.design.namespaces:
            word = pattern_environment_word(ctx.pattern(ns))
            env = ctx.instance_of(ns).environment
            if word is not None and ENVIRONMENT_WORDS[word] != env:
                yield self.finding(
                    namespace_target(ns.name),
                    f"Pattern `{ns.pattern}` starts with environment `{word}` ({ENVIRONMENT_WORDS[word]}) "
                    f"but instance {ns.instance} is a {env} instance.",
                    f"Start the key with the instance's environment (`{env}:`), or move the namespace to "
                    f"a {ENVIRONMENT_WORDS[word]} instance.",
                )


class KEY007(PatternRule):
    """The key pattern's literal text is long (over 64 bytes by default).

    **Why it matters.** Every byte of the key is stored once per key, in RAM even on Flash
    Optimized tiers, and travels with every command. Long keys with small values are a poor fit
    for Flash, and millions of long keys add up to real memory; long keys also make each lookup
    compare more bytes.

    **What to do instead.** Shorten the literal segments (`prod:cat:prod:v3:` rather than spelled
    out names) while keeping them readable.

    **Bad**

    ```yaml
    pattern: "production:product-catalogue-service:product-detail-page-fragment:version-3:<id:int>"
    ```

    **Good**

    ```yaml
    pattern: "prod:catalog:pdp-fragment:v3:<id:int>"
    ```

    **Sources.** <https://redis.io/docs/latest/develop/using-commands/keyspace/> (very long keys are
    not a good idea), <https://learn.microsoft.com/azure/redis/best-practices-flash-optimized> (keys
    stay in RAM).

    Threshold: `KEY007.max_literal_bytes` (default 64).
    """

    id = "KEY007"
    title = "Long key pattern"
    default_severity = Severity.low
    thresholds = {"KEY007.max_literal_bytes": 64}
    remediation = "Shorten the literal segments of the key while keeping them readable."

    def pattern_problem(self, text: str, pattern: Pattern, threshold: Callable[[str], float]) -> str | None:
        limit = threshold("KEY007.max_literal_bytes")
        size = len(pattern.literal_text.encode())
        if size <= limit:
            return None
        return f"The literal text of `{text}` is {size} bytes, over the limit of {limit:g}."


RULES: list[Rule] = [KEY001(), KEY002(), KEY003(), KEY004(), KEY005(), KEY006(), KEY007()]
# The rules a key pattern decides on its own, before it belongs to a namespace (engine.lint_pattern).
PATTERN_RULES: list[PatternRule] = [rule for rule in RULES if isinstance(rule, PatternRule)]

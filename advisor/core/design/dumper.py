"""A canonical design file: contract order, defaults written out, stable under load and dump."""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import re
from typing import Any, Literal

import yaml

from advisor.core.design.fields import plain_number
from advisor.core.design.models import Design, Instance, Namespace, Team, Waiver


class _Flow(dict):
    pass


class _FlowList(list):
    pass


class _Quoted(str):
    pass


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent sequences under their key, as the contract's example does.
        return super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = None
    if isinstance(value, _Quoted) or any(not c.isprintable() and c != "\n" for c in value):
        # Double quotes escape everything. PyYAML would write NEL, LS and PS unquoted, and
        # reading them back turns them into line breaks.
        style = '"'
    elif (
        "\n" in value
        and value != "\n"
        and not value.endswith("\n\n")
        and all(c == "\n" or c.isprintable() for c in value)
    ):
        # A literal block for multi-line text. Not when it would need the keep indicator
        # ('|+'), whose trailing blank lines the section spacing below would change.
        style = "|"
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style=style)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(_Quoted, _represent_str)
_Dumper.add_representer(_Flow, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True))
_Dumper.add_representer(
    _FlowList, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True)
)


def _design_dict(design: Design) -> dict:
    """The design as plain data in contract order, defaults written out."""

    def team(t: Team) -> dict:
        return {"name": t.name, "contact": t.contact}

    def instance(i: Instance) -> dict:
        out = i.model_dump(mode="python", exclude={"connection"})
        out["memory_gb"] = plain_number(i.memory_gb)
        out["connection"] = None if i.connection is None else i.connection.model_dump(mode="python")
        return out

    def namespace(n: Namespace) -> dict:
        out = n.model_dump(mode="python")
        if n.ttl.mode == "none":
            out["ttl"] = _Flow(mode="none")
        else:
            out["ttl"] = _Flow(mode=n.ttl.mode, seconds=n.ttl.seconds, jitter_seconds=n.ttl.jitter_seconds)
        out["pattern"] = _Quoted(n.pattern)
        out["value_bytes"] = _Flow(out["value_bytes"])
        out["ops_per_sec"] = _Flow(
            reads=plain_number(n.ops_per_sec.reads), writes=plain_number(n.ops_per_sec.writes)
        )
        out["contains"] = _FlowList(n.contains)
        out["multi_key_with"] = _FlowList(n.multi_key_with)
        return out

    def waiver(w: Waiver) -> dict:
        return w.model_dump(mode="python")

    policy = design.policy
    return {
        "version": design.version,
        "teams": [team(t) for t in design.teams],
        "instances": [instance(i) for i in design.instances],
        "namespaces": [namespace(n) for n in design.namespaces],
        "policy": {
            "disable": _FlowList(policy.disable),
            "severity": {k: policy.severity[k].value for k in sorted(policy.severity)},
            "thresholds": {k: plain_number(policy.thresholds[k]) for k in sorted(policy.thresholds)},
        },
        "waivers": [waiver(w) for w in design.waivers],
    }


def dump_design(design: Design, format: Literal["yaml", "json"] = "yaml") -> str:
    """A canonical design file: contract order, defaults explicit, stable under load and dump."""
    data = _design_dict(design)
    if format == "json":
        return json.dumps(data, indent=2, ensure_ascii=False, default=_json_default) + "\n"
    if format != "yaml":
        raise ValueError(f"unknown format {format!r}; use yaml or json")
    # Each top-level key on its own gives the same text as the whole mapping at once, which lets
    # the namespaces (nearly all of a large design) take the fast path below.
    parts = []
    for key, value in data.items():
        if key == "namespaces" and value:
            parts.append("namespaces:\n" + "".join(_namespace_item(ns) for ns in value))
        else:
            parts.append(_pyyaml({key: value}))
    return _space_sections("".join(parts))


def _pyyaml(data: Any) -> str:
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=math.inf, default_flow_style=False
    )


# The namespaces, written directly: PyYAML's pure-Python emitter takes about 0.7 ms a namespace
# (7 s for 10,000). The text is exactly what PyYAML writes: the common scalars (names, enumerations,
# integers, booleans, printable ASCII patterns) are written as PyYAML writes them, any other one is
# written by PyYAML itself (once per distinct value), and a namespace with a scalar that would span
# lines, or with a field of another shape, is left to PyYAML whole. tests/test_design_dump.py
# compares both ways.


class _Whole(Exception):
    """This namespace is left to PyYAML whole."""


_SIMPLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVER = yaml.resolver.Resolver()


def _namespace_item(ns: dict) -> str:
    try:
        lines = [f"{key}: {_value(value)}" for key, value in ns.items()]
    except _Whole:
        return _pyyaml({"namespaces": [ns]}).removeprefix("namespaces:\n")
    return "  - " + "\n    ".join(lines) + "\n"


def _value(value: Any) -> str:
    if isinstance(value, _Flow):
        return "{" + ", ".join(f"{k}: {_scalar(v, flow=True)}" for k, v in value.items()) + "}"
    if isinstance(value, _FlowList):
        return "[" + ", ".join(_scalar(v, flow=True) for v in value) + "]"
    if isinstance(value, dict | list):
        raise _Whole
    return _scalar(value, flow=False)


def _scalar(value: Any, *, flow: bool) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is int:
        return str(value)
    if type(value) is _Quoted and _PRINTABLE_ASCII.fullmatch(value):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if type(value) is str and _SIMPLE.fullmatch(value):
        # Plain, unless the text reads as another type (123, true, null, 2026-01-01): quoted then.
        plain = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) == _STR_TAG
        return value if plain else f"'{value}'"
    return _emitted(type(value), value, flow)


@functools.lru_cache(maxsize=4096)
def _emitted(kind: type, value: Any, flow: bool) -> str:
    """The scalar as PyYAML writes it as a mapping's value (in a flow list with `flow`)."""
    text = _pyyaml({"k": _FlowList([value])} if flow else {"k": value})
    body = text.removeprefix("k: ").removesuffix("\n")
    if "\n" in body:
        raise _Whole
    return body[1:-1] if flow else body


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _space_sections(text: str) -> str:
    # A blank line before each top-level key and each item of a top-level list. Such lines sit at
    # column 0 or start with "  - "; block scalars are indented deeper, so none is touched.
    out: list[str] = []
    previous = ""
    for line in text.splitlines(keepends=True):
        top_level_key = bool(line[:1].strip())
        list_item = line.startswith("  - ") and not previous[:1].strip()
        if out and (top_level_key or list_item):
            out.append("\n")
        out.append(line)
        previous = line
    return "".join(out)

"""A canonical design file: contract order, defaults written out, stable under load and dump."""

from __future__ import annotations

import datetime as dt
import json
import math
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
    text = yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=math.inf, default_flow_style=False
    )
    return _space_sections(text)


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

"""Loading a design file, YAML or JSON, all or nothing: `load_design` returns a `Design` or raises
`DesignError` carrying every problem with its location (`namespaces[3].ttl.seconds`) and, for
YAML, its line.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from advisor.core.design.errors import DesignError, DesignIssue, Loc, format_loc
from advisor.core.design.fields import DESIGN_VERSION, plain_number
from advisor.core.design.models import Design
from advisor.core.design.references import reference_problems


class _Lenient:
    """The safe loader's constructors, except that an impossible date, or an integer longer than
    Python converts (4,300 digits), stays a string for the model to reject at its location."""

    def construct_yaml_timestamp(self, node: yaml.Node) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)

    def construct_yaml_int(self, node: yaml.Node) -> Any:
        try:
            return super().construct_yaml_int(node)
        except ValueError:
            return self.construct_scalar(node)


class _Loader(_Lenient, yaml.SafeLoader):
    """PyYAML's own parser, whose errors are the ones reported."""


# libyaml's parser, when PyYAML has it (its wheels do): the same nodes, marks and data several
# times faster, which a file of thousands of namespaces needs (bench/web.py). A file it refuses
# is read again by PyYAML's parser, so that an error reads the same either way.
if yaml.__with_libyaml__:

    class _FastLoader(_Lenient, yaml.CSafeLoader):
        pass

else:
    _FastLoader = _Loader  # type: ignore[misc]

for _cls in {_Loader, _FastLoader}:
    _cls.add_constructor("tag:yaml.org,2002:timestamp", _Lenient.construct_yaml_timestamp)
    _cls.add_constructor("tag:yaml.org,2002:int", _Lenient.construct_yaml_int)


def _json_int(text: str) -> int | str:
    # Past sys.get_int_max_str_digits() int() raises; the model then says "must be an integer".
    try:
        return int(text)
    except ValueError:
        return text


class _JsonObject(dict):
    """A JSON object that remembers the keys it saw more than once."""

    duplicates: list[str]


def _json_object(pairs: list[tuple[str, Any]]) -> _JsonObject:
    obj = _JsonObject()
    obj.duplicates = []
    for key, value in pairs:
        if key in obj:
            obj.duplicates.append(key)
        obj[key] = value
    return obj


def load_design(text: str | bytes, *, filename: str = "<design>") -> Design:
    """Parse and validate a YAML or JSON design file; raises DesignError listing every problem."""
    try:
        return _load_design(text, filename=filename)
    except RecursionError:
        # A design nests four levels deep; thousands of brackets are an attack or an accident.
        raise DesignError(
            [DesignIssue(loc="", message="the file nests too deeply to be a design file")], filename=filename
        ) from None


def _load_design(text: str | bytes, *, filename: str) -> Design:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DesignError(
                [DesignIssue(loc="", message=f"not UTF-8 text (byte {e.start})")], filename=filename
            ) from None
    text = text.removeprefix("\ufeff")

    issues: list[DesignIssue] = []
    data, root = _parse(text, filename=filename, issues=issues)
    if data is _UNPARSABLE:
        raise DesignError(issues, filename=filename)

    def issue(path: Loc, message: str) -> None:
        issues.append(DesignIssue(loc=format_loc(path), message=message, line=_line_of(root(), path)))

    if data is None:
        issue((), "the file is empty; a design starts with 'version: 1'")
        raise DesignError(issues, filename=filename)
    if not isinstance(data, dict):
        issue((), "the top level must be a mapping with version, teams, instances and namespaces")
        raise DesignError(issues, filename=filename)
    if "version" in data and (type(data["version"]) is not int or data["version"] != DESIGN_VERSION):
        # Another version may mean another structure; field errors against ours would be noise.
        shown = repr(data["version"]) if len(repr(data["version"])) <= 40 else "(too long to show)"
        issue(("version",), f"unsupported version {shown}: this advisor reads version 1")
        raise DesignError(issues, filename=filename)

    for path, message in reference_problems(data):
        issue(path, message)
    design = None
    try:
        design = Design.model_validate(data, context={"_references_checked": True})
    except ValidationError as e:
        for err in e.errors():
            path, message = _pydantic_issue(err)
            issue(path, message)

    if issues:
        raise DesignError(_ordered(issues), filename=filename)
    assert design is not None
    return design


def load_design_file(path: str | Path) -> Design:
    """Read and load a design file; errors name the file."""
    path = Path(path)
    return load_design(path.read_bytes(), filename=str(path))


_UNPARSABLE = object()


def _parse(
    text: str, *, filename: str, issues: list[DesignIssue]
) -> tuple[Any, Callable[[], yaml.Node | None]]:
    """The data and a function giving (when YAML can compose it) the node tree, for line numbers;
    _UNPARSABLE after a syntax error."""
    looks_like_json = filename.lower().endswith(".json") or text.lstrip().startswith(("{", "["))
    json_error: json.JSONDecodeError | None = None
    if looks_like_json:
        # JSON semantics exactly (numbers, escapes); YAML only for line numbers, composed only
        # when there is a problem to locate (for a valid file it would cost most of the load).
        try:
            data = json.loads(text, object_pairs_hook=_json_object, parse_int=_json_int)
        except json.JSONDecodeError as e:
            json_error = e
        else:
            root = functools.cache(lambda: _json_lines(text))
            for path, key in _json_duplicates(data, ()):
                issues.append(
                    DesignIssue(
                        loc=format_loc(path), message=f"duplicate key '{key}'", line=_line_of(root(), path)
                    )
                )
            return data, root

    try:
        root, loader = _compose(text)
    except yaml.YAMLError as e:
        if json_error is not None and (filename.lower().endswith(".json") or text.lstrip().startswith("[")):
            issues.append(
                DesignIssue(loc="", message=f"invalid JSON: {json_error.msg}", line=json_error.lineno)
            )
        else:
            issues.append(_yaml_syntax_issue(e))
        return _UNPARSABLE, lambda: None
    if root is None:
        return None, lambda: None
    for path, key, line, first_line in _yaml_duplicates(root, (), set()):
        issues.append(
            DesignIssue(
                loc=format_loc((*path, key)),
                message=f"duplicate key '{key}' (first at line {first_line})",
                line=line,
            )
        )
    try:
        data = loader.construct_document(root)
    except yaml.YAMLError as e:
        issues.append(_yaml_syntax_issue(e))
        return _UNPARSABLE, lambda: None
    finally:
        loader.dispose()
    return data, lambda: root


def _json_lines(text: str) -> yaml.Node | None:
    try:
        root, loader = _compose(text)
    except yaml.YAMLError:
        return None
    loader.dispose()
    return root


def _compose(text: str) -> tuple[yaml.Node | None, _Loader]:
    # libyaml first; PyYAML's parser for a text it refuses, or one with a character PyYAML's
    # reader refuses (so that both accept exactly the same files).
    loaders = [_Loader] if _FastLoader is _Loader or _NON_PRINTABLE.search(text) else [_FastLoader, _Loader]
    for i, loader_class in enumerate(loaders):
        loader = loader_class(text)
        try:
            return loader.get_single_node(), loader
        except yaml.YAMLError:
            loader.dispose()
            if i == len(loaders) - 1:
                raise
    raise AssertionError("unreachable")


_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE


def _yaml_syntax_issue(e: yaml.YAMLError) -> DesignIssue:
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    problem = getattr(e, "problem", None) or str(e)
    context = getattr(e, "context", None)
    message = f"invalid YAML: {context}, {problem}" if context else f"invalid YAML: {problem}"
    return DesignIssue(loc="", message=message, line=mark.line + 1 if mark else None)


def _scalar_key(node: yaml.Node) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _yaml_duplicates(node: yaml.Node, path: Loc, seen: set[int]) -> Iterator[tuple[Loc, str, int, int]]:
    if id(node) in seen:  # aliases share nodes; visit each once
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = _scalar_key(key_node)
            if key is not None:
                line = key_node.start_mark.line + 1
                if (key_node.tag, key) in first:
                    yield path, key, line, first[key_node.tag, key]
                else:
                    first[key_node.tag, key] = line
            yield from _yaml_duplicates(value_node, (*path, key if key is not None else "?"), seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _yaml_duplicates(item, (*path, i), seen)


def _json_duplicates(data: Any, path: Loc) -> Iterator[tuple[Loc, str]]:
    if isinstance(data, _JsonObject):
        for key in data.duplicates:
            yield (*path, key), key
        for key, value in data.items():
            yield from _json_duplicates(value, (*path, key))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from _json_duplicates(item, (*path, i))


def _line_of(root: yaml.Node | None, path: Loc) -> int | None:
    """The 1-based line of the deepest node on the path (the key's line for a mapping entry)."""
    if root is None:
        return None
    node, line = root, root.start_mark.line + 1
    for step in path:
        if isinstance(node, yaml.MappingNode):
            found = None
            for key_node, value_node in node.value:  # the last of duplicate keys is the one kept
                if _scalar_key(key_node) == str(step):
                    found = key_node, value_node
            if found is None:
                break
            line, node = found[0].start_mark.line + 1, found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
            node = node.value[step]
            line = node.start_mark.line + 1
        else:
            break
    return line


_MESSAGES = {
    "missing": "required",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "date_type": "must be a date (YYYY-MM-DD)",
    "date_parsing": "must be a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "must be a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "must be a date without a time (YYYY-MM-DD)",
    "string_too_short": "must not be empty",
}


def _pydantic_issue(err: dict) -> tuple[Loc, str]:
    path: Loc = tuple(step for step in err["loc"] if step != "[key]")
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "extra_forbidden":
        return path, _unknown_field_message(path)
    if kind in ("literal_error", "enum"):
        got = err.get("input")
        shown = f", not {got!r}" if isinstance(got, (str, int, float, bool)) and len(repr(got)) <= 40 else ""
        return path, f"must be {ctx.get('expected', '')}{shown}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[
            kind
        ]
        bound = next(iter(ctx.values()))
        return path, f"must be {op} {plain_number(bound) if isinstance(bound, float) else bound}"
    if kind == "string_pattern_mismatch" and path and path[-1] == "sku":
        return path, "must be an Azure size name such as B10, P2 or C3 (letters and digits)"
    if kind in ("too_long", "string_too_long"):
        return path, f"must be at most {ctx.get('max_length')} characters long"
    if kind in _MESSAGES:
        return path, _MESSAGES[kind]
    message = err["msg"]
    return path, message.removeprefix("Value error, ")


def _unknown_field_message(path: Loc) -> str:
    model = _model_at(path[:-1])
    if model is None:
        return "unknown field"
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(str(path[-1]), allowed, n=1)
    if close:
        return f"unknown field; did you mean '{close[0]}'?"
    return f"unknown field (allowed: {', '.join(allowed)})"


def _model_at(path: Loc) -> type[BaseModel] | None:
    """The model class that validates the mapping at `path`, following field annotations."""
    current: Any = Design
    for step in path:
        if isinstance(step, int):
            continue
        if (
            not (isinstance(current, type) and issubclass(current, BaseModel))
            or step not in current.model_fields
        ):
            return None
        current = _unwrap(current.model_fields[step].annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """The model inside `Model`, `list[Model]` or `Model | None`; None for anything else."""
    while True:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return annotation
        if typing.get_origin(annotation) not in (list, typing.Union, types.UnionType):
            return None
        args = [a for a in get_args(annotation) if a is not type(None)]
        if not args:
            return None
        annotation = args[0]


def _ordered(issues: list[DesignIssue]) -> list[DesignIssue]:
    """Issues in file order (unlocated ones last), each reported once."""
    unique = list(dict.fromkeys(issues))
    return sorted(unique, key=lambda i: math.inf if i.line is None else i.line)

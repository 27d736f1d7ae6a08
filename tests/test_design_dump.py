"""The YAML dump writes namespaces without PyYAML's emitter for speed; the text must be exactly what
PyYAML writes for the whole design, whatever the values, and load back to the same design."""

from __future__ import annotations

import math

import pytest
import yaml

from advisor.core.design import dump_design, dumper, load_design
from tests.conftest import demo_design


def _pyyaml_whole(design) -> str:
    """The design dumped by PyYAML in one go, as dump_design did before it had a fast path."""
    data = dumper._design_dict(design)
    text = yaml.dump(
        data,
        Dumper=dumper._Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=math.inf,
        default_flow_style=False,
    )
    return dumper._space_sections(text)


def _with(**fields):
    """The demo design with its first namespace changed."""
    design = demo_design()
    first = design.namespaces[0].model_copy(update=fields)
    return design.model_copy(update={"namespaces": [first, *design.namespaces[1:]]})


DESCRIPTIONS = [
    "", "plain words", "Caché for the café", "a: b", "# not a comment", " leading", "trailing ",
    "two\nlines", "two\nlines\n", "ends in\n\n", "'single'", '"double"', "123", "true", "null", "~",
    "2026-01-01", "yes", "NO", "1.5", ".inf", "0x1F", "tab\there", "emoji 😀", "line\u2028separator",
    "- dash", "[list]", "{map}", "a, b", "key: value # comment", "@at", "`tick`", "back\\slash", "x" * 300,
]  # fmt: skip
SOURCES = [None, "sql.table", "orders-db", "SQL Server: orders", "1e5", "off", "a#b", "12:30"]
PATTERNS = [
    "prod:catalog:<id:int>", "prod:{<cart:int>}:items", 'prod:"quoted":<id:int>',
    "prod:back\\slash:<id:int>", "prod:café:<id:int>",
]  # fmt: skip


@pytest.mark.parametrize("description", DESCRIPTIONS)
def test_a_description_is_written_as_pyyaml_writes_it(description):
    design = _with(description=description)
    assert dump_design(design) == _pyyaml_whole(design)
    assert load_design(dump_design(design)).namespaces[0].description == description


@pytest.mark.parametrize("source", SOURCES)
def test_a_source_of_truth_is_written_as_pyyaml_writes_it(source):
    design = _with(source_of_truth=source)
    assert dump_design(design) == _pyyaml_whole(design)
    assert load_design(dump_design(design)).namespaces[0].source_of_truth == source


@pytest.mark.parametrize("pattern", PATTERNS)
def test_a_pattern_is_written_as_pyyaml_writes_it(pattern):
    design = _with(pattern=pattern)
    assert dump_design(design) == _pyyaml_whole(design)
    assert load_design(dump_design(design)).namespaces[0].pattern == pattern


@pytest.mark.parametrize("name", ["123", "true", "null", "on", "2026-01-01", "1-2", "0x1f", "plain-name"])
def test_a_name_that_reads_as_another_type_is_quoted_as_pyyaml_quotes_it(name):
    design = _with(name=name)
    assert dump_design(design) == _pyyaml_whole(design)
    assert load_design(dump_design(design)).namespaces[0].name == name


@pytest.mark.parametrize("reads, writes", [(1.5, 0.25), (1e9, 2.5e-3), (0, 1)])
def test_fractional_rates_are_written_as_pyyaml_writes_them(reads, writes):
    first = demo_design().namespaces[0]
    design = _with(ops_per_sec=first.ops_per_sec.model_copy(update={"reads": reads, "writes": writes}))
    assert dump_design(design) == _pyyaml_whole(design)
    loaded = load_design(dump_design(design)).namespaces[0].ops_per_sec
    assert (loaded.reads, loaded.writes) == (reads, writes)


def test_the_demo_design_is_written_as_pyyaml_writes_it():
    assert dump_design(demo_design()) == _pyyaml_whole(demo_design())


def test_a_design_without_namespaces_is_written_as_pyyaml_writes_it():
    design = demo_design().model_copy(update={"namespaces": [], "waivers": []})
    assert dump_design(design) == _pyyaml_whole(design)
    assert "namespaces: []" in dump_design(design)

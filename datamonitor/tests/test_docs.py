"""The docs stay true to the code: every command, config key and mapped field is documented."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from datamonitor import EsSettings
from datamonitor.cli import build_parser
from datamonitor.config import _ENV_ES
from datamonitor.templates import mapping

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
pytestmark = pytest.mark.skipif(not DOCS.is_dir(), reason="docs/ is not beside an installed package")


def _fields(props: dict, prefix: str = "") -> list[str]:
    out = []
    for key, spec in props.items():
        out += _fields(spec["properties"], f"{prefix}{key}.") if "properties" in spec else [f"{prefix}{key}"]
    return out


def test_every_command_and_option_is_in_the_cli_page() -> None:
    text = (DOCS / "cli.rst").read_text()
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, cmd in sub.choices.items():
        assert f"``{name}" in text, f"command {name} is not in docs/cli.rst"
        for action in cmd._actions:
            for opt in action.option_strings:
                if opt.startswith("--") and opt != "--help":
                    assert opt in text, f"{name} {opt} is not in docs/cli.rst"


def test_every_setting_and_variable_is_in_the_configuration_page() -> None:
    text = (DOCS / "configuration.rst").read_text()
    for field in dataclasses.fields(EsSettings):
        key = "url" if field.name == "hosts" else field.name
        assert f"elasticsearch.{key}" in text, f"elasticsearch.{key} is not in docs/configuration.rst"
    for var in [*_ENV_ES, "DATAMONITOR_ES_URL", "DATAMONITOR_HOME", "DATAMONITOR_CONFIG", "DATAMONITOR_STORE"]:
        assert var in text, f"{var} is not in docs/configuration.rst"


def test_every_mapped_field_is_in_the_schema_page() -> None:
    text = (DOCS / "schema.rst").read_text()
    for field in _fields(mapping()["properties"]):
        assert f"``{field}``" in text, f"{field} is not in docs/schema.rst"


def test_readme_starts_with_exactly_two_commands() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    block = lines[lines.index("```sh") + 1:]
    commands = block[:block.index("```")]
    assert len(commands) == 2 and "tox" in commands[1]
    assert "tox" in (ROOT / ".ci" / "run").read_text()


def test_every_test_the_reliability_page_names_exists() -> None:
    import re

    text = (DOCS / "reliability.rst").read_text()
    named = re.findall(r"``(test_\w+\.py)::(test_\w+)``", text)
    assert len(named) >= 25
    tests = Path(__file__).parent
    for module, name in named:
        assert f"def {name}(" in (tests / module).read_text(), f"docs/reliability.rst names {module}::{name}"


def test_the_kpis_page_holds_the_kpi_table() -> None:
    from datamonitor.kpis import to_rst

    text = (DOCS / "kpis.rst").read_text()
    table = text.split(".. kpi-table-start\n", 1)[1].split(".. kpi-table-end", 1)[0].strip("\n") + "\n"
    assert table == to_rst(), "docs/kpis.rst is stale: paste the output of 'datamonitor kpis --rst'"
    assert "kpis" in (DOCS / "index.rst").read_text()


def test_every_kpi_the_docs_name_is_in_the_table() -> None:
    import re

    from datamonitor.kpis import find

    for page in DOCS.glob("*.rst"):
        for name in re.findall(r"``((?:file|column|disk|udp)\.[a-z0-9_]+)", page.read_text()):
            if name in ("file.path", "file.name", "file.size", "file.extension"):  # document fields, not KPIs
                continue
            assert find(name) is not None, f"docs/{page.name} names {name}, which is not in datamonitor/kpis.py"


def test_the_config_page_and_the_help_say_toml_or_yaml() -> None:
    text = " ".join((DOCS / "configuration.rst").read_text().split())
    assert "YAML" in text and "TOML" in text
    help_text = " ".join(build_parser().format_help().split())
    assert "TOML, or YAML" in help_text


def test_the_everyday_run_leaves_out_slow_tests_and_tox_runs_them_all() -> None:
    import configparser

    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini")
    assert "slow:" in tox["pytest"]["markers"] and "--strict-markers" in tox["pytest"]["addopts"]
    for runs_everything in (tox["pytest"]["addopts"], tox["testenv"]["commands"]):
        assert "-m" not in runs_everything.split(), "tox and .ci/run must not deselect the slow tests"
    everyday = 'python -m pytest -m "not slow"'
    assert everyday in (ROOT / "README.md").read_text() and everyday in (DOCS / "reliability.rst").read_text()


def _package_modules() -> set[str]:
    package = ROOT / "datamonitor"
    return {".".join(("datamonitor", *p.relative_to(package).with_suffix("").parts)).removesuffix(".__init__")
            for p in package.rglob("*.py") if "tests" not in p.relative_to(package).parts}


def test_the_architecture_page_names_modules_that_exist_and_every_module_has_its_line() -> None:
    import re

    text = (DOCS / "architecture.rst").read_text()
    named = set(re.findall(r":mod:`(datamonitor[\w.]*)`", text))
    modules = _package_modules() - {"datamonitor", "datamonitor.__main__"}
    assert named - modules == set(), "the page names modules that do not exist"
    assert modules - named == set(), "modules without their line in docs/architecture.rst"
    assert "architecture" in (DOCS / "index.rst").read_text(), "the page is in the toctree"


def test_no_module_on_the_way_imports_one_that_comes_later() -> None:
    """records, the store and the shipper know nothing of the facade, the CLI or the service."""
    import ast

    upper = {"monitor", "factories", "reading", "status", "report", "show", "cli", "cliutil", "service", "checks",
             "daemon", "loop"}
    lower = ["records", "payloads", "encoder", "storetypes", "storeschema", "store", "state", "shipping", "connection",
             "templates", "kpis", "sources/__init__", "sources/disk", "sources/files", "sources/udp", "sources/datagram", "sources/receive",
             "sources/watch", "sources/statsd"]
    for name in lower:
        tree = ast.parse((ROOT / "datamonitor" / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level and node.module:
                assert node.module.split(".")[0] not in upper, f"{name} imports {node.module}"

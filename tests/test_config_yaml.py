"""The strict YAML reader: safe, no duplicate keys, numbers as physicists write them."""

from __future__ import annotations

import pytest
import yaml

from stm_andreev.config import (
    ConfigError,
    ConfigSyntaxError,
    DuplicateKeyError,
    StrictSafeLoader,
    UnsafeTagError,
)
from stm_andreev.config.yaml_file import parse_yaml, read_yaml


@pytest.mark.parametrize("text, value", [
    ("x: 1e-9", 1e-9), ("x: -3E-3", -3e-3), ("x: +2e6", 2e6), ("x: 1.5e-6", 1.5e-6),
    ("x: 1_000", 1000), ("x: 0.065", 0.065), ("x: '1e-9'", "1e-9"), ("x: 1e", "1e"),
])
def test_numbers_without_a_dot_are_floats(text, value):
    got = parse_yaml(text).data["x"]
    assert got == value and type(got) is type(value)


def test_duplicate_key_names_path_and_both_lines():
    with pytest.raises(DuplicateKeyError) as info:
        parse_yaml("a:\n  b: 1\n  c: 2\n  b: 3\n", "f.yaml")
    (problem,) = info.value.problems
    assert problem.key == "a.b" and problem.line == 4
    assert "also at line 2" in str(info.value)


def test_loader_class_alone_refuses_duplicates_and_python_tags():
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate key 'a'"):
        yaml.load("a: 1\na: 2\n", Loader=StrictSafeLoader)  # noqa: S506 - the strict loader
    with pytest.raises(yaml.constructor.ConstructorError, match="not allowed"):
        yaml.load("a: !!python/object/apply:os.getcwd []\n", Loader=StrictSafeLoader)  # noqa: S506
    assert yaml.load("a: 1e-3\n", Loader=StrictSafeLoader) == {"a": 1e-3}  # noqa: S506


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system ['true']",
                                 "!!python/name:os.system", "!!set {a}", "!!binary aGk=",
                                 "!include other.yaml", "!!omap [a: 1]"])
def test_non_core_tags_are_refused_by_key(tag):
    with pytest.raises(UnsafeTagError) as info:
        parse_yaml(f"outer:\n  inner: {tag}\n")
    assert info.value.keys == ["outer.inner"]
    assert "not allowed" in str(info.value)


def test_refused_tag_is_never_constructed(monkeypatch):
    called = []
    monkeypatch.setattr("os.getcwd", lambda: called.append(1))
    with pytest.raises(UnsafeTagError):
        parse_yaml("a: !!python/object/apply:os.getcwd []\n")
    assert called == []


def test_anchors_and_merge_keys_work():
    doc = parse_yaml("base: &b {n: 1, m: 2}\nuse:\n  <<: *b\n  m: 3\n")
    assert doc.data["use"] == {"n": 1, "m": 3}


def test_recursive_anchor_is_refused():
    with pytest.raises(ConfigSyntaxError, match="refers to its own anchor"):
        parse_yaml("a: &x [1, *x]\n")


def test_lines_are_recorded_per_key_path():
    doc = parse_yaml("a: 1\nb:\n  - c: 2\n    d: 3\n")
    assert doc.lines[("a",)] == 1 and doc.lines[("b", 0, "c")] == 3
    assert doc.lines[("b", 0, "d")] == 4


@pytest.mark.parametrize("text, words", [
    ("", "empty"), ("# only a comment\n", "empty"), ("- 1\n- 2\n", "mapping"),
    ("just text", "mapping"), ("a: [1,\n", "not valid YAML"), ("a: 1\n---\nb: 2\n", "YAML"),
    ("{a: 1}: 2\n", "plain value"),
])
def test_unusable_documents(text, words):
    with pytest.raises(ConfigSyntaxError) as info:
        parse_yaml(text, "x.yaml")
    assert words in str(info.value) and "x.yaml" in str(info.value)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        read_yaml(tmp_path / "nope.yaml")
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(ConfigError, match="not a text file"):
        read_yaml(binary)
    with pytest.raises(ConfigError, match="cannot read"):
        read_yaml(tmp_path)  # a directory

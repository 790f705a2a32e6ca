"""Reading configuration YAML safely: no code, no duplicate keys, numbers as physicists write them.

:class:`StrictSafeLoader` is PyYAML's ``SafeLoader`` (nothing is ever evaluated or imported)
with three changes:

- a repeated key in one mapping is an error (plain YAML silently keeps the last value, which
  turns a copy-pasted ``max_bias_V`` into a limit nobody chose);
- any tag outside the YAML core schema (``!!python/object``, ``!custom``...) is refused by name;
- ``1e-9`` is a float. YAML 1.1 needs a dot (``1.0e-9``) and would otherwise hand the string
  ``"1e-9"`` to whatever reads the file; YAML 1.2 and every physicist read it as a number.

:func:`read_yaml` also records the line of every key, so errors can say where to look.
"""

from __future__ import annotations

import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from stm_andreev.config.errors import (
    ConfigFileError,
    ConfigProblem,
    ConfigSyntaxError,
    DuplicateKeyError,
    KeyPath,
    UnsafeTagError,
)

_CORE_TAGS = {
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "merge")
}

# Floats without a dot, e.g. 1e-9, -3E-3, +2e6 (YAML 1.2 core schema form).
_EXPONENT_FLOAT = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")


class StrictSafeLoader(yaml.SafeLoader):
    """A ``SafeLoader`` that refuses duplicate keys and non-core tags and reads ``1e-9``."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` merges are flattened by SafeLoader itself
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (dict, list)):
                raise ConstructorError(None, None, "a mapping key must be a plain value",
                                       key_node.start_mark)
            if key in seen:
                raise ConstructorError(
                    None, None,
                    f"duplicate key {key!r} (first at line {seen[key].start_mark.line + 1})",
                    key_node.start_mark)
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)

    def construct_undefined(self, node: Node) -> Any:
        raise ConstructorError(None, None, f"tag {node.tag!r} is not allowed",
                               node.start_mark)


StrictSafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789"))
# Only the core constructors: SafeLoader also knows !!set, !!omap, !!binary... which a station
# file never needs and which would slip past pydantic as odd types.
for _tag in list(StrictSafeLoader.yaml_constructors):
    if _tag not in _CORE_TAGS:  # includes None, the fallback for unknown tags
        StrictSafeLoader.add_constructor(_tag, StrictSafeLoader.construct_undefined)


@dataclass
class YamlDocument:
    """A parsed file: its data, the 1-based line of every key path, and its text."""

    data: Any
    file: str
    lines: dict[KeyPath, int] = field(default_factory=dict)
    text: str = ""


def _walk(node: Node, path: KeyPath, lines: dict[KeyPath, int], file: str,
          done: set[int], stack: tuple[int, ...] = ()) -> None:
    """Record lines, and reject bad tags, duplicate keys and recursive anchors by key path.

    An aliased node is walked once (``done``), so anchors cannot blow up the walk.
    """
    lines.setdefault(path, node.start_mark.line + 1)
    if id(node) in stack:
        raise ConfigSyntaxError(file, [ConfigProblem(
            path, "an alias refers to its own anchor (recursive data)",
            node.start_mark.line + 1)])
    if id(node) in done:
        return
    done.add(id(node))
    stack = (*stack, id(node))
    if node.tag not in _CORE_TAGS:
        raise UnsafeTagError(file, [ConfigProblem(
            path, f"YAML tag {node.tag!r} is not allowed (configuration files hold plain "
                  "values only; nothing is built or executed)", node.start_mark.line + 1)])
    if isinstance(node, MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise ConfigSyntaxError(file, [ConfigProblem(
                    path, "a mapping key must be a plain value", key_node.start_mark.line + 1)])
            if key_node.tag not in _CORE_TAGS:
                _walk(key_node, path, lines, file, done, stack)
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                raise DuplicateKeyError(file, [ConfigProblem(
                    (*path, key), f"duplicate key (also at line {seen[key]}); "
                                  "each key may appear once", line)])
            seen[key] = line
            lines[(*path, key)] = line
            _walk(value_node, (*path, key), lines, file, done, stack)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines, file, done, stack)


# Bounds on what a small file can make the parser do (see parse_yaml / read_yaml).
MAX_CONFIG_BYTES = 1024 * 1024  # a station or plan file is a few kB
MAX_EXPANDED_VALUES = 100_000  # values after expanding every alias (a "billion laughs" bomb)


def _expanded_size(node: Node, memo: dict[int, int]) -> int:
    """Number of values ``node`` stands for once every alias is expanded (memoised per node,
    so counting is linear in the file even when the expansion is exponential)."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # a recursive alias is reported by _walk
    if isinstance(node, MappingNode):
        size = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    elif isinstance(node, SequenceNode):
        size = 1 + sum(_expanded_size(item, memo) for item in node.value)
    else:
        size = 1
    memo[key] = min(size, 10 * MAX_EXPANDED_VALUES)  # capped: ints stay small
    return memo[key]


def _problem_from_yaml_error(exc: yaml.YAMLError) -> ConfigProblem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    text = f"not valid YAML: {problem}" + (f" ({context})" if context else "")
    return ConfigProblem((), text, mark.line + 1 if mark is not None else None)


def parse_yaml(text: str, file: str = "<memory>") -> YamlDocument:
    """Parse one YAML document strictly; raise :class:`ConfigSyntaxError` on anything odd."""
    try:
        loader = StrictSafeLoader(text)
    except yaml.YAMLError as exc:  # e.g. a NUL or other control character in the text
        raise ConfigSyntaxError(file, [_problem_from_yaml_error(exc)]) from None
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise ConfigSyntaxError(file, [_problem_from_yaml_error(exc)]) from exc
        if node is None:
            raise ConfigSyntaxError(file, [ConfigProblem((), "the file is empty")])
        lines: dict[KeyPath, int] = {}
        _walk(node, (), lines, file, set())
        expanded = _expanded_size(node, {})
        if expanded > MAX_EXPANDED_VALUES:
            raise ConfigSyntaxError(file, [ConfigProblem(
                (), f"aliases (*name) expand to more than {MAX_EXPANDED_VALUES} values; a "
                    "configuration never needs that many (a YAML alias bomb?)", 1)])
        try:
            data = loader.construct_document(node)
        except yaml.YAMLError as exc:  # pragma: no cover - _walk catches these first
            raise ConfigSyntaxError(file, [_problem_from_yaml_error(exc)]) from exc
        except ValueError as exc:  # e.g. an integer of more than 4300 digits
            raise ConfigSyntaxError(file, [ConfigProblem(
                (), f"a value cannot be read: {str(exc)[:200]}")]) from None
    except RecursionError:
        raise ConfigSyntaxError(file, [ConfigProblem(
            (), "nested too deeply (brackets or indentation); a configuration is a few levels "
                "deep")]) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise ConfigSyntaxError(file, [ConfigProblem(
            (), f"expected a mapping of key: value lines at the top, got {type(data).__name__}",
            1)])
    return YamlDocument(data=data, file=file, lines=lines, text=text)


def read_yaml(path: str | Path) -> YamlDocument:
    """Read and strictly parse a YAML file (UTF-8); every failure is a ``ConfigError``."""
    path = Path(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            # A FIFO would block the read for ever, /dev/zero never end it.
            raise ConfigFileError(path, [ConfigProblem(
                (), "cannot read: not a regular file (a directory, a device or a pipe)")])
        if info.st_size > MAX_CONFIG_BYTES:
            raise ConfigFileError(path, [ConfigProblem(
                (), f"{info.st_size} bytes; a configuration file is at most "
                    f"{MAX_CONFIG_BYTES // 1024} KiB")])
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigFileError(path, [ConfigProblem(
                (), f"more than {MAX_CONFIG_BYTES // 1024} KiB; not a configuration file")])
    except FileNotFoundError as exc:
        raise ConfigFileError(path, [ConfigProblem((), "file not found")]) from exc
    except OSError as exc:
        raise ConfigFileError(path, [ConfigProblem((), f"cannot read: {exc.strerror}")]) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigFileError(path, [ConfigProblem(
            (), f"not a text file (invalid UTF-8 at byte {exc.start})")]) from exc
    return parse_yaml(text, str(path))

"""Configuration errors: one :class:`ConfigError` naming the file, the key path and what was wanted.

Every problem found while reading a station or plan file becomes a :class:`ConfigProblem`
(``instruments.lockin.address`` + a sentence + the line number when known); one
:class:`ConfigError` carries them all, so a physicist fixes the whole file in one pass instead of
one typo per run. Pydantic's own error text is translated here and never shown raw.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

KeyPath = tuple[str | int, ...]


def format_key_path(path: Sequence[str | int]) -> str:
    """Render ``("steps", 0, "n_bias")`` as ``steps.0.n_bias`` (the form used in all messages)."""
    return ".".join(str(part) for part in path) if path else "(top level)"


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong in a configuration file."""

    path: KeyPath
    message: str
    line: int | None = None  # 1-based line in the file, when the key (or its parent) is there

    @property
    def key(self) -> str:
        return format_key_path(self.path)

    def render(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.key}: {self.message}"


class ConfigError(Exception):
    """A station or plan file is unusable; the message lists every problem with its key path."""

    kind = "configuration"
    headline = "Invalid {kind} file {file}"

    def __init__(self, file: str | Path | None, problems: Sequence[ConfigProblem],
                 kind: str | None = None):
        if kind is not None:
            self.kind = kind  # "station" or "plan", when the reader knows
        self.file = str(file) if file is not None else "<memory>"
        self.problems: tuple[ConfigProblem, ...] = tuple(problems)
        super().__init__(self._render())

    def _render(self) -> str:
        count = len(self.problems)
        plural = "problem" if count == 1 else "problems"
        head = self.headline.format(kind=self.kind, file=self.file) + f" ({count} {plural}):"
        return "\n".join([head, *(f"  {p.render()}" for p in self.problems)])

    @property
    def keys(self) -> list[str]:
        """The dotted key paths of all problems (handy in tests and in the GUI)."""
        return [p.key for p in self.problems]


class ConfigFileError(ConfigError):
    """The file cannot be read at all (missing, unreadable, not text)."""

    headline = "Cannot read configuration file {file}"


class ConfigSyntaxError(ConfigError):
    """The file is not readable YAML (empty, malformed, not a mapping, several documents)."""

    kind = "YAML"


class DuplicateKeyError(ConfigSyntaxError):
    """A mapping repeats a key; YAML would silently keep the last one, we refuse."""


class UnsafeTagError(ConfigSyntaxError):
    """The file uses a YAML tag that would build Python objects (``!!python/object`` ...)."""


class ConfigValidationError(ConfigError):
    """The YAML is well formed but values are missing, of the wrong type or out of range."""


class ConfigKindError(ConfigValidationError):
    """A station file given where a plan is expected, or a plan where a station is expected.

    ``found`` is what the file is ("station" or "plan"), ``kind`` what was wanted; the commands
    add how to pass the file instead (``--station``), which only they know.
    """

    def __init__(self, file: str | Path | None, expected: str, found: str,
                 keys: Sequence[str], wanted_keys: str):
        self.found = found
        self._keys = ", ".join(f"{key}:" for key in keys)
        self._wanted_keys = wanted_keys
        super().__init__(file, [ConfigProblem((), f"this is a {found} file, not a {expected}")],
                         expected)

    def _render(self) -> str:
        return (f"{self.file} is a {self.found} file, not a {self.kind} (it has {self._keys}; "
                f"a {self.kind} has {self._wanted_keys})")


class PlanLimitError(ConfigError):
    """A plan asks for more than the station's limits allow (bias, setpoint, temperature...)."""

    kind = "plan (checked against the station limits)"


class KeyedValueError(ValueError):
    """Raised inside model validators to point at exact keys below the model being validated.

    Pydantic only knows the location of the validator; ``problems`` adds the sub-path, so a
    cross-check in the station model can still blame ``roles.lockin`` rather than the whole file.
    """

    def __init__(self, problems: Iterable[tuple[KeyPath, str]]):
        self.problems = [(tuple(path), message) for path, message in problems]
        super().__init__("; ".join(f"{format_key_path(p)}: {m}" for p, m in self.problems))


# ---------------------------------------------------------------- pydantic -> readable problems

# Values that pydantic inserts into error locations to say which union member it tried
# (discriminator tags); they are not keys of the file. Registered by the model modules.
UNION_TAGS: set[str] = set()


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _expected_number_bound(ctx: Mapping[str, Any]) -> str:
    for key, word in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
        if key in ctx:
            return f"must be {word} {ctx[key]}"
    return "is out of range"


_TYPE_WORDS = {
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number (no fractional part)",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected text",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "set_type": "expected a list",
    "dict_type": "expected a mapping of key: value lines",
    "model_type": "expected a mapping of key: value lines",
    "model_attributes_type": "expected a mapping of key: value lines",
    "finite_number": "expected a finite number",
    "none_required": "must be empty (null)",
}


def _message_for(error: Mapping[str, Any], allowed: list[str] | None, key: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == "missing":
        return "missing (required)"
    if kind == "extra_forbidden":
        msg = f"unknown key {key!r}"
        if allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            if close:
                msg += f" (did you mean {close[0]!r}?)"
            msg += f"; allowed keys: {', '.join(allowed)}"
        return msg
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected', '?')}; got {_short(value)}"
    if kind == "union_tag_invalid":
        return f"expected one of {ctx.get('expected_tags', '?')}; got {_short(ctx.get('tag'))}"
    if kind == "union_tag_not_found":
        return "missing (required)"
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        return f"{_expected_number_bound(ctx)}; got {_short(value)}"
    if kind == "too_long" and ctx.get("field_type") == "Tuple":
        return f"expected exactly {ctx.get('max_length')} values; got {ctx.get('actual_length')}"
    if kind in {"too_short", "too_long"}:
        word = "at least" if kind == "too_short" else "at most"
        bound = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        return f"expected {word} {bound} item(s); got {ctx.get('actual_length', '?')}"
    if kind == "string_pattern_mismatch":
        return f"has the wrong form; got {_short(value)}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind in _TYPE_WORDS:
        return f"{_TYPE_WORDS[kind]}; got {_short(value)}"
    if kind in {"value_error", "assertion_error"}:
        err = ctx.get("error")
        return str(err) if err is not None else error.get("msg", "invalid value")
    return f"{error.get('msg', 'invalid value')}; got {_short(value)}"


def _clean_location(raw: Sequence[Any], data: Any) -> KeyPath:
    """Drop pydantic's union-member tags from a location, keeping the real keys of the file.

    A tag is dropped only where the data at that point has no such key, so a user key that
    happens to equal a tag name survives.
    """
    path: list[str | int] = []
    node = data
    for part in raw:
        if isinstance(part, str) and part in UNION_TAGS and not (
            isinstance(node, Mapping) and part in node
        ):
            continue
        if isinstance(part, str) and part.endswith("[key]"):
            # dict key failed validation: the key itself is the problem
            path.append(part[: -len("[key]")])
            node = None
            continue
        path.append(part)
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(path)


def union_members(annotation: Any) -> list[Any]:
    """The member types of a (possibly Annotated, possibly nested) union; [annotation] if none."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return union_members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(annotation):
            out.extend(union_members(arg))
        return out
    return [annotation]


def accepts_bool(annotation: Any) -> bool:
    """Whether a field annotation takes a plain true/false (bool, or a container/Any)."""
    for arg in union_members(annotation):
        if arg is bool or arg is Any:
            return True
        if typing.get_origin(arg) is typing.Literal:
            if any(isinstance(v, bool) for v in typing.get_args(arg)):
                return True
            continue
        if arg not in (int, float, str, type(None)) and typing.get_origin(arg) not in (
                list, tuple, dict) and not (isinstance(arg, type) and issubclass(arg, BaseModel)):
            return True  # something unusual: let its own validator judge
    return False


def _model_at(root: type[BaseModel], raw: Sequence[Any]) -> type[BaseModel] | None:
    """Follow a raw pydantic location through the model classes; None when lost."""
    candidates: list[Any] = [root]
    for part in raw:
        if isinstance(part, str) and part in UNION_TAGS:
            # a union tag names the member pydantic tried: keep that member only
            tagged = [c for c in candidates if _tag_of(c) == part]
            candidates = tagged or candidates
            continue
        nxt: list[Any] = []
        for cand in candidates:
            origin = typing.get_origin(cand)
            if isinstance(cand, type) and issubclass(cand, BaseModel) and isinstance(part, str):
                field = cand.model_fields.get(part) or next(
                    (f for f in cand.model_fields.values() if f.alias == part), None)
                if field is not None:
                    nxt.extend(union_members(field.annotation))
            elif origin in (list, tuple) and isinstance(part, int):
                nxt.extend(a for arg in typing.get_args(cand) if arg is not Ellipsis
                           for a in union_members(arg))
            elif origin is dict and isinstance(part, str):
                nxt.extend(union_members(typing.get_args(cand)[1]))
        candidates = nxt
        if not candidates:
            return None
    models = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
    return models[0] if len(models) == 1 else None


def _tuple_size(root: type[BaseModel], raw: Sequence[Any]) -> int | None:
    """The length of the fixed-size list (tuple field) at ``raw``, when it can be found."""
    if not raw or not isinstance(raw[-1], str):
        return None
    parent = _model_at(root, raw[:-1])
    field = parent.model_fields.get(raw[-1]) if parent is not None else None
    if field is None:
        return None
    for arg in union_members(field.annotation):
        if typing.get_origin(arg) is tuple and Ellipsis not in typing.get_args(arg):
            return len(typing.get_args(arg))
    return None


def _tag_of(cls: Any) -> str | None:
    return getattr(cls, "union_tag", None) if isinstance(cls, type) else None


def problems_from_validation_error(
    exc: ValidationError,
    model: type[BaseModel],
    data: Any,
    lines: Mapping[KeyPath, int] | None = None,
    prefix_rewrite: KeyPath = (),
) -> list[ConfigProblem]:
    """Translate a pydantic ``ValidationError`` into readable problems with file key paths.

    ``prefix_rewrite`` removes a leading location that exists only in the normalised data
    (a one-step plan file is validated as ``steps.0``), so messages use the file's own keys.
    """
    problems: list[ConfigProblem] = []
    for error in exc.errors(include_url=False):
        raw = tuple(error["loc"])
        ctx_err = (error.get("ctx") or {}).get("error")
        sub_problems: list[tuple[KeyPath, str]]
        if isinstance(ctx_err, KeyedValueError):
            sub_problems = ctx_err.problems
        else:
            sub_problems = [((), "")]
        for sub_path, sub_message in sub_problems:
            path = _clean_location(raw, data) + tuple(sub_path)
            if error["type"] == "missing" and raw and isinstance(raw[-1], int):
                # a short fixed-length list ([P, I] for [P, I, D]): blame the list itself
                path = path[:-1]
                size = _tuple_size(model, raw[:-1])
                want = f"exactly {size} values" if size else "more values"
                problems.append(ConfigProblem(path, f"expected {want}; got {raw[-1]}",
                                              line_for(path, lines)))
                continue
            if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
                # blame the tag key itself (driver, kind), which the user has to fix
                tag_key = str((error.get("ctx") or {}).get("discriminator", "")).strip("'")
                if tag_key.isidentifier():
                    path += (tag_key,)
            if error["type"] == "extra_forbidden":
                parent = _model_at(model, raw[:-1])
                allowed = ([f.alias or n for n, f in parent.model_fields.items()]
                           if parent is not None else None)
                message = _message_for(error, allowed, raw[-1] if raw else "")
            else:
                message = sub_message or _message_for(error, None, None)
            if prefix_rewrite and path[: len(prefix_rewrite)] == prefix_rewrite:
                path = path[len(prefix_rewrite):]
            problems.append(ConfigProblem(path, message, line_for(path, lines)))
    return problems


def line_for(path: KeyPath, lines: Mapping[KeyPath, int] | None) -> int | None:
    """The line of ``path`` in the file, or of its nearest ancestor that is present."""
    if not lines:
        return None
    for cut in range(len(path), -1, -1):
        line = lines.get(tuple(path[:cut]))
        if line is not None:
            return line
    return None

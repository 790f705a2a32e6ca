"""A form generated from a plan step's own schema (the run-control plan editor).

Every key of the step's model except ``kind`` gets a field titled with the plan-file key (the
name a physicist reads in the YAML, units in it): a combo box for a fixed choice, a spin box
for an integer (with the schema's bounds), a line edit for a number, and YAML flow text for a
list, a sweep or a position (``[0.065, 0.5]``, ``{start: 0.065, stop: 1.6, n: 15}``). The
form only parses what was typed; the plan loader validates the edited plan, so a value the
form accepts is one ``stm-andreev run`` accepts, and a refusal names the key.
"""

from __future__ import annotations

import math
import types
import typing
from typing import Any, Literal

import yaml
from PyQt5 import QtWidgets

INT_LIMIT = 2**31 - 1  # a QSpinBox holds a C int


class StepInputError(ValueError):
    """A form field holds text that is not a value of its key (the message names the key)."""


def _members(annotation: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return tuple(m for arg in typing.get_args(annotation) for m in _members(arg))
    return (annotation,)


def _bounds(info) -> tuple[float, float]:
    lo, hi = -INT_LIMIT, INT_LIMIT
    for meta in info.metadata:
        lo = max(lo, getattr(meta, "ge", None) if getattr(meta, "ge", None) is not None else lo)
        hi = min(hi, getattr(meta, "le", None) if getattr(meta, "le", None) is not None else hi)
    return lo, hi


def field_kind(info) -> tuple[str, tuple[Any, ...]]:
    """How a schema field is edited: ("choice", values), ("int", ()), ("float", ()),
    ("text", ()) or ("yaml", ()); "optional" floats and texts accept an empty field."""
    members = [m for m in _members(info.annotation) if m is not type(None)]
    if len(members) == 1 and typing.get_origin(members[0]) is Literal:
        return "choice", typing.get_args(members[0])
    if members == [int]:
        return "int", ()
    if members == [float]:
        return "float", ()
    if members == [str]:
        return "text", ()
    return "yaml", ()


def _title(name: str, info) -> str:
    optional = type(None) in _members(info.annotation)
    return f"{name} (optional)" if optional else name


class StepForm(QtWidgets.QWidget):
    """Edits one plan step: a field per key of its schema, titled with the key."""

    def __init__(self, step, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.step = step
        self.fields: dict[str, QtWidgets.QWidget] = {}
        self._kinds: dict[str, tuple[str, tuple[Any, ...]]] = {}
        layout = QtWidgets.QFormLayout(self)
        layout.setFieldGrowthPolicy(QtWidgets.QFormLayout.ExpandingFieldsGrow)
        dumped = step.model_dump(mode="json")
        for name, info in type(step).model_fields.items():
            if name == "kind":
                continue
            kind = field_kind(info)
            widget = self._input_for(kind, dumped.get(name), info)
            widget.setObjectName(name)
            layout.addRow(_title(name, info), widget)
            self.fields[name] = widget
            self._kinds[name] = kind

    @staticmethod
    def _input_for(kind: tuple[str, tuple[Any, ...]], value: Any, info) -> QtWidgets.QWidget:
        what, choices = kind
        if what == "choice":
            combo = QtWidgets.QComboBox()
            combo.addItems([str(c) for c in choices])
            combo.setCurrentText(str(value))
            return combo
        if what == "int":
            spin = QtWidgets.QSpinBox()
            lo, hi = _bounds(info)
            spin.setRange(int(max(lo, -INT_LIMIT)), int(min(hi, INT_LIMIT)))
            spin.setValue(int(value))
            return spin
        if value is None:
            return QtWidgets.QLineEdit("")
        if what == "float":
            return QtWidgets.QLineEdit(f"{value:.6g}" if math.isfinite(value) else str(value))
        if what == "text":
            return QtWidgets.QLineEdit(str(value))
        return QtWidgets.QLineEdit(yaml.safe_dump(value, default_flow_style=True).strip())

    def texts(self) -> dict[str, object]:
        """The fields as typed (not parsed)."""
        out: dict[str, object] = {}
        for name, widget in self.fields.items():
            if isinstance(widget, QtWidgets.QComboBox):
                out[name] = widget.currentText()
            elif isinstance(widget, QtWidgets.QSpinBox):
                out[name] = widget.value()
            else:
                out[name] = widget.text()
        return out

    def set_value(self, name: str, value: object) -> None:
        """Put ``value`` into the field of key ``name`` (as if typed)."""
        widget = self.fields[name]
        if isinstance(widget, QtWidgets.QComboBox):
            widget.setCurrentText(str(value))
        elif isinstance(widget, QtWidgets.QSpinBox):
            widget.setValue(int(value))
        else:
            widget.setText(str(value))

    def values(self) -> dict[str, Any]:
        """The step's keys as the form holds them, parsed; an empty optional key is left out.

        Raises :class:`StepInputError` naming the key for text that is not a number or not
        YAML. Range and consistency are the plan loader's to check.
        """
        out: dict[str, Any] = {"kind": self.step.kind}
        for name, raw in self.texts().items():
            what, choices = self._kinds[name]
            try:
                if what == "choice":
                    out[name] = next(c for c in choices if str(c) == raw)
                elif what == "int":
                    out[name] = int(raw)
                elif not str(raw).strip():
                    continue  # empty: the key is not given (None, or the schema's default)
                elif what == "float":
                    out[name] = float(str(raw).strip())
                elif what == "text":
                    out[name] = str(raw)
                else:
                    out[name] = yaml.safe_load(str(raw))
            except (ValueError, StopIteration, yaml.YAMLError) as exc:
                raise StepInputError(f"{name}: {raw!r} is not a value of this key ({exc})"
                                     ) from None
        return out

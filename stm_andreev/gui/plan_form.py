"""A form generated from a pymeasure Procedure's Parameters (the run-control plan editor)."""

from __future__ import annotations

import math

from pymeasure.experiment import (
    BooleanParameter,
    FloatParameter,
    IntegerParameter,
    ListParameter,
)
from PyQt5 import QtWidgets


class ParameterInputError(ValueError):
    """A form field holds a value its Parameter refuses (message names the field)."""


def _float_text(value: float) -> str:
    return f"{value:.6g}" if math.isfinite(value) else str(value)


class ProcedureForm(QtWidgets.QWidget):
    """Edits one Procedure's Parameters: a line edit (floats, text), a spin box (integers),
    a check box (booleans) or a combo box (choices) per Parameter, with its units.

    :meth:`apply` writes the fields back through the Parameters' own validators (so the
    Procedure's minimum/maximum hold) and raises :class:`ParameterInputError` naming the field.
    """

    def __init__(self, procedure, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.procedure = procedure
        self.fields: dict[str, QtWidgets.QWidget] = {}
        layout = QtWidgets.QFormLayout(self)
        layout.setFieldGrowthPolicy(QtWidgets.QFormLayout.ExpandingFieldsGrow)
        for name, param in procedure.parameter_objects().items():
            widget = self._input_for(param, getattr(procedure, name))
            widget.setObjectName(name)
            units = getattr(param, "units", None)
            title = f"{param.name} ({units})" if units else param.name
            layout.addRow(title, widget)
            self.fields[name] = widget

    @staticmethod
    def _input_for(param, value) -> QtWidgets.QWidget:
        if isinstance(param, BooleanParameter):
            box = QtWidgets.QCheckBox()
            box.setChecked(bool(value))
            return box
        if isinstance(param, ListParameter):
            combo = QtWidgets.QComboBox()
            combo.addItems([str(c) for c in param.choices])
            combo.setCurrentText(str(value))
            return combo
        if isinstance(param, IntegerParameter):
            spin = QtWidgets.QSpinBox()
            lo = param.minimum if param.minimum is not None else -(2**31)
            hi = param.maximum if param.maximum is not None else 2**31 - 1
            spin.setRange(int(max(lo, -(2**31))), int(min(hi, 2**31 - 1)))
            spin.setValue(int(value))
            return spin
        edit = QtWidgets.QLineEdit(
            _float_text(float(value)) if isinstance(param, FloatParameter) else str(value)
        )
        return edit

    def values(self) -> dict[str, object]:
        """The fields as typed (not validated)."""
        out: dict[str, object] = {}
        for name, widget in self.fields.items():
            if isinstance(widget, QtWidgets.QCheckBox):
                out[name] = widget.isChecked()
            elif isinstance(widget, QtWidgets.QComboBox):
                out[name] = widget.currentText()
            elif isinstance(widget, QtWidgets.QSpinBox):
                out[name] = widget.value()
            else:
                out[name] = widget.text()
        return out

    def set_value(self, name: str, value: object) -> None:
        """Put ``value`` into the field of Parameter ``name`` (as if typed)."""
        widget = self.fields[name]
        if isinstance(widget, QtWidgets.QCheckBox):
            widget.setChecked(bool(value))
        elif isinstance(widget, QtWidgets.QComboBox):
            widget.setCurrentText(str(value))
        elif isinstance(widget, QtWidgets.QSpinBox):
            widget.setValue(int(value))
        else:
            widget.setText(str(value))

    def apply(self) -> None:
        """Validate every field through its Parameter and store it in the Procedure."""
        params = self.procedure.parameter_objects()
        for name, raw in self.values().items():
            param = params[name]
            try:
                if isinstance(param, FloatParameter):
                    value = float(str(raw).strip())
                else:
                    value = raw
                param.value = value  # the Parameter's own range and type checks
            except (TypeError, ValueError) as exc:
                raise ParameterInputError(f"{param.name}: {exc} (got {raw!r})") from exc
            setattr(self.procedure, name, param.value)

"""The Nanonis commands set against the vendor's published Python client (``nanonis_spm``).

The vendor client declares every command as ``quickSend(name, args, arg_types, ret_types)``:
that is the protocol document in code. :func:`vendor_declarations` reads those declarations
from the installed client's source (without running it) and :func:`canonical` turns the
vendor's type lists into this project's type codes (``"i", "*+c"`` -> ``str``, ``"i", "i",
"*+c"`` -> ``str[]``, ``"i", "i", "2f"`` -> ``2f``, ``"i", "*f"`` or ``"+*f"`` -> ``f[]``), so
the suite
can compare each emulated command's argument and return types with the vendor's.

:data:`VENDOR_DECLARATION_GAPS` lists where the vendor's declaration contradicts its own
documentation; there the documentation (and the controller) is followed.

:data:`MODULES` are the vendor-client modules the issue names for the simulated STM (bias,
Z controller, current, bias spectroscopy, lock-in, signals, piezo / tip position, scan status,
oscilloscope and sampling modules); a command of those modules the emulator does not serve
answers the controller's error block for an unknown command.
"""

from __future__ import annotations

import ast
import inspect

#: vendor-client method prefixes of the modules the simulated STM concerns
MODULES: tuple[str, ...] = (
    "Bias.", "ZCtrl.", "Current.", "BiasSpectr.", "LockIn.", "Signals.", "FolMe.", "Piezo.",
    "Scan.", "Osci1T.", "Osci2T.", "OsciHR.", "DataLog.", "TipRec.", "Motor.", "AutoApproach.",
)

#: command -> why the emulator differs from the vendor client's quickSend declaration
VENDOR_DECLARATION_GAPS: dict[str, str] = {
    "BiasSpectr.StatusGet": "the client declares no return value, but its own docstring (and "
                            "the controller) return Status (unsigned int32): 0 not running, "
                            "1 running",
}

#: Why a command of :data:`MODULES` is not served (by module; first match wins).
NOT_SERVED_REASONS: dict[str, str] = {
    "Scan.": "imaging is not part of the simulated experiment (the tip stays at one point)",
    "Osci": "the oscilloscopes' traces are not simulated; read signals with Signals.ValsGet",
    "DataLog.": "the data logger is not simulated; the project records its own run files",
    "TipRec.": "the tip-move recorder is not simulated",
    "Motor.": "coarse motion is not simulated (no approach in the simulated experiment)",
    "AutoApproach.": "coarse approach is not simulated",
    "Piezo.": "piezo calibration and drift settings have no physics in the simulated lab",
    "": "not used by the project's procedures",
}


def vendor_declarations(client_class: type) -> dict[str, tuple[list[str], list[str]]]:
    """``name -> (argument types, return types)`` from the vendor client's ``quickSend``
    calls, read from its source."""
    tree = ast.parse(inspect.getsource(inspect.getmodule(client_class)))
    found: dict[str, tuple[list[str], list[str]]] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "quickSend" and len(node.args) == 4):
            continue
        name, _values, arg_types, ret_types = node.args
        if not isinstance(name, ast.Constant):
            continue
        try:
            found[name.value] = (ast.literal_eval(arg_types), ast.literal_eval(ret_types))
        except ValueError:
            continue  # a computed type list: not a declaration the suite can compare
    return found


def canonical(codes: list[str]) -> list[str]:
    """The vendor's wire type codes as this project's (see the module docstring)."""
    out: list[str] = []
    i = 0
    while i < len(codes):
        code = codes[i]
        following = codes[i + 1:i + 3]
        if code == "i" and len(following) == 2 and following[0] == "i" \
                and following[1] in ("*+c", "2f"):
            out.append("str[]" if following[1] == "*+c" else "2f")
            i += 3
        elif code == "i" and following and following[0].startswith("*") \
                and following[0] not in ("*+c", "*-c"):
            out.append(following[0][1:] + "[]")
            i += 2
        elif code.startswith("+*") and code != "+*c":
            out.append(code[2:] + "[]")  # an array carrying its own element count
            i += 1
        elif code in ("+*c", "*-c") or (code == "i" and following[:1] == ["*-c"]):
            out.append("str")
            i += 2 if code == "i" else 1
        else:
            out.append(code)
            i += 1
    return out


def in_scope(name: str) -> bool:
    return name.startswith(MODULES)


def not_served_reason(name: str) -> str:
    return next(reason for prefix, reason in NOT_SERVED_REASONS.items()
                if name.startswith(prefix))

"""Per-model data of the SR830 / SR860 emulators: command tables, output parameters, defaults.

The emulator engine (:mod:`stm_andreev.simulators.emulators.srs`) is written once; each model
is this data plus the shared setting tables of :mod:`stm_andreev.drivers.srs_tables`.

Output parameters are named once (:data:`PARAMETERS`) and each model maps its wire indexes or
names onto them (``SNAP?``, ``OUTP?``, the SR830 display channels, the SR860 data channels).

What the CH1/CH2 analog outputs carry follows from stored settings (SR830 ``FPOP`` and
``DDEF``, SR860 ``COUT``) through the model's :attr:`EmulatedModel.output_sources`; the
emulator hands the result to the lab, where the STM controller's inputs read the outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from stm_andreev.drivers.srs_tables import SR830_MODEL, SR860_MODEL, SRSModel

#: Output parameters the emulator can report at one instant. Aux inputs read 0 V: nothing is
#: wired to them in the simulated lab. Noise outputs (X noise, Y noise) are not emulated.
PARAMETERS: tuple[str, ...] = (
    "X", "Y", "R", "THETA", "AUXIN1", "AUXIN2", "AUXIN3", "AUXIN4",
    "AUXOUT1", "AUXOUT2", "PHASE", "SINE", "DCLEVEL", "FREQ", "FREQEXT", "CH1", "CH2",
)


@dataclass(frozen=True)
class Field:
    """One numeric field of a stored setting: int or float, inclusive range, default.

    ``tokens``: SR860 names of the values ``low``, ``low + 1``, ... (see :func:`token_forms`),
    accepted in place of the number; queries answer the number, as the instrument does.
    """

    kind: type
    low: float
    high: float
    default: float
    tokens: tuple[str, ...] = ()


def ints(low: int, high: int, default: int = 0, tokens: tuple[str, ...] = ()) -> Field:
    return Field(int, low, high, default, tokens)


def token_forms(token: str) -> tuple[str, ...]:
    """Upper-case spellings the SR860 accepts for a token: its capitalised prefix (``RTH`` of
    ``RTHeta``) and every longer prefix up to the whole name."""
    short = next((i for i, c in enumerate(token) if c.islower()), len(token))
    full = token.upper()
    return tuple(full[:end] for end in range(short, len(full) + 1))


def floats(low: float, high: float, default: float = 0.0) -> Field:
    return Field(float, low, high, default)


@dataclass(frozen=True)
class StoredSetting:
    """A setting with no physics: remembered, validated, read back.

    ``channels``: allowed values of a leading channel argument (``AUXV i,x``), or None.
    ``fields``: the values after the channel (most settings have one).
    ``channel_defaults``: per-channel defaults of the first field, overriding its default.
    ``channel_tokens``: SR860 names of the channels, in order (``OCH1``, ``OCH2``).
    """

    fields: tuple[Field, ...]
    channels: range | None = None
    channel_defaults: tuple[float, ...] | None = None
    channel_tokens: tuple[str, ...] = ()

    def defaults(self, channel: int | None) -> list[float]:
        """Values after a reset for ``channel`` (None for unchannelled settings)."""
        values = [f.default for f in self.fields]
        if self.channel_defaults is not None and channel is not None and self.channels:
            values[0] = self.channel_defaults[self.channels.index(channel)]
        return values


def _one(field_: Field, channels: range | None = None) -> StoredSetting:
    return StoredSetting((field_,), channels)


#: The stored settings as the emulator keeps them: (mnemonic, channel or None) -> values.
Stored = Mapping[tuple[str, int | None], list[float]]


@dataclass(frozen=True)
class EmulatedModel:
    """Everything the emulator needs to know about one model.

    ``outputs``: ``OUTP?`` argument (upper-case text) -> parameter; ``snap``: ``SNAP?`` argument
    -> parameter; ``snap_count``: allowed number of ``SNAP?`` arguments; ``stored``: mnemonic
    -> :class:`StoredSetting`; ``defaults``: physics settings after ``*RST`` (sensitivity V,
    time constant s, slope dB/oct, amplitude V rms, frequency Hz, phase deg, harmonic);
    ``phase_range_deg``: accepted ``PHAS`` values (wrapped into [-180, 180));
    ``optional_commands``: the model's commands among the engine's optional ones (auto
    functions, ``SNAPD?``, ``CUROVLDSTAT?``, ...); ``aliases``: extra mnemonic -> mnemonic;
    ``formats``: reply format of float settings (``SLVL?``, ``PHAS?``);
    ``output_sources``: what the CH1 and CH2 analog outputs carry (parameter names) given the
    stored settings, re-evaluated whenever one of ``output_settings`` is set.
    """

    spec: SRSModel
    outputs: dict[str, str]
    snap: dict[str, str]
    snap_count: range
    stored: dict[str, StoredSetting]
    defaults: dict[str, float]
    phase_range_deg: tuple[float, float]
    aux_out_channels: range
    aux_in_channels: range
    optional_commands: frozenset[str] = frozenset()
    aliases: dict[str, str] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)
    display_channels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    output_sources: Callable[[Stored], tuple[str, str]] | None = None
    output_settings: frozenset[str] = frozenset()


# --- SR830 ----------------------------------------------------------------------------------

# DDEF i,j: what display channel i shows for each j (X noise / Y noise are not emulated)
_SR830_DISPLAYS = {
    "CH1": ("X", "R", "XNOISE", "AUXIN1", "AUXIN2"),
    "CH2": ("Y", "THETA", "YNOISE", "AUXIN3", "AUXIN4"),
}


def _sr830_output_sources(stored: Stored) -> tuple[str, str]:
    """``FPOP i,1`` puts X (CH1) or Y (CH2) on the output, ``FPOP i,0`` what display i shows."""
    ch1, ch2 = (
        direct if stored[("FPOP", i)][0] else _SR830_DISPLAYS[f"CH{i}"][int(stored[("DDEF", i)][0])]
        for i, direct in ((1, "X"), (2, "Y"))
    )
    return ch1, ch2


_SR830_SNAP = {
    "1": "X", "2": "Y", "3": "R", "4": "THETA", "5": "AUXIN1", "6": "AUXIN2", "7": "AUXIN3",
    "8": "AUXIN4", "9": "FREQ", "10": "CH1", "11": "CH2",
}

SR830_EMULATED = EmulatedModel(
    spec=SR830_MODEL,
    outputs={"1": "X", "2": "Y", "3": "R", "4": "THETA"},
    snap=_SR830_SNAP,
    snap_count=range(2, 7),
    stored={
        "ISRC": _one(ints(0, 3)),  # A, A-B, I (1 Mohm), I (100 Mohm)
        "IGND": _one(ints(0, 1)),
        "ICPL": _one(ints(0, 1)),
        "ILIN": _one(ints(0, 3)),
        "RMOD": _one(ints(0, 2, 1)),
        "SYNC": _one(ints(0, 1)),
        "FMOD": _one(ints(0, 1, 1)),  # internal reference
        "RSLP": _one(ints(0, 2)),
        "DDEF": StoredSetting((ints(0, 4), ints(0, 1)), range(1, 3)),
        "FPOP": _one(ints(0, 1), range(1, 3)),
        "OEXP": StoredSetting((floats(-105.0, 105.0), ints(0, 2)), range(1, 4)),
        "AUXV": _one(floats(-10.5, 10.5), range(1, 5)),
        "OUTX": _one(ints(0, 1, 1)),
        "OVRM": _one(ints(0, 1)),
        "LOCL": _one(ints(0, 2)),
        "*PSC": _one(ints(0, 1, 1)),
        "KCLK": _one(ints(0, 1, 1)),
        "ALRM": _one(ints(0, 1, 1)),
    },
    defaults={
        "sensitivity_V": 1.0, "time_constant_s": 0.1, "filter_slope_db": 12,
        "amplitude_Vrms": 1.0, "frequency_Hz": 1000.0, "phase_deg": 0.0, "harmonic": 1,
    },
    phase_range_deg=(-360.0, 729.99),
    aux_out_channels=range(1, 5),
    aux_in_channels=range(1, 5),
    optional_commands=frozenset({"AGAN", "AOFF", "ARSV", "SSET", "RSET"}),
    formats={"SLVL": "{:.3f}", "PHAS": "{:.3f}"},
    display_channels=_SR830_DISPLAYS,
    output_sources=_sr830_output_sources,
    output_settings=frozenset({"FPOP", "DDEF"}),
)

# --- SR860 ----------------------------------------------------------------------------------

# (full name, shortest accepted form): the SR860 accepts the capitalised prefix or the name.
_SR860_NAMES: tuple[tuple[str, str, str], ...] = (
    ("X", "X", "X"), ("Y", "Y", "Y"), ("R", "R", "R"), ("THETA", "TH", "THETA"),
    ("IN1", "IN1", "AUXIN1"), ("IN2", "IN2", "AUXIN2"), ("IN3", "IN3", "AUXIN3"),
    ("IN4", "IN4", "AUXIN4"), ("XNOISE", "XNO", "XNOISE"), ("YNOISE", "YNO", "YNOISE"),
    ("OUT1", "OUT1", "AUXOUT1"), ("OUT2", "OUT2", "AUXOUT2"), ("PHASE", "PHA", "PHASE"),
    ("SAMP", "SAM", "SINE"), ("LEVEL", "LEV", "DCLEVEL"), ("FINT", "FI", "FREQ"),
    ("FEXT", "FE", "FREQEXT"),
)


def _sr860_parameter_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for index, (full, short, parameter) in enumerate(_SR860_NAMES):
        names[str(index)] = parameter
        # every prefix from the short form up to the full name is accepted
        for end in range(len(short), len(full) + 1):
            names[full[:end]] = parameter
    return names


_SR860_SNAP = _sr860_parameter_names()

#: channel tokens of the SR860's per-output offset / expand / ratio settings (X, Y, R)
_XYR = ("X", "Y", "R")

# COUT i,j: output i (OCH1, OCH2) carries X / Y (j = XY) or R / theta (j = RTHeta)
_SR860_OUTPUT_CHOICES = (("X", "R"), ("Y", "THETA"))


def _sr860_output_sources(stored: Stored) -> tuple[str, str]:
    ch1, ch2 = (choices[int(stored[("COUT", i)][0])]
                for i, choices in enumerate(_SR860_OUTPUT_CHOICES))
    return ch1, ch2


SR860_EMULATED = EmulatedModel(
    spec=SR860_MODEL,
    outputs={k: v for k, v in _SR860_SNAP.items() if v in ("X", "Y", "R", "THETA")},
    snap=_SR860_SNAP,
    snap_count=range(2, 4),
    stored={
        "IVMD": _one(ints(0, 1)),  # voltage / current input
        "ISRC": _one(ints(0, 1)),  # A / A-B
        "ICPL": _one(ints(0, 1)),
        "IGND": _one(ints(0, 1)),
        "IRNG": _one(ints(0, 4)),  # 1 V, 300 mV, 100 mV, 30 mV, 10 mV
        "ICUR": _one(ints(0, 1)),
        "REFM": _one(ints(0, 1)),
        "RSRC": _one(ints(0, 3)),  # internal reference
        "RTRG": _one(ints(0, 4)),
        "REFZ": _one(ints(0, 1)),
        "SYNC": _one(ints(0, 1)),
        "ADVFILT": _one(ints(0, 1, 1)),
        "HARMDUAL": _one(ints(1, 99, 1)),
        "TBMODE": _one(ints(0, 1)),
        "DBLK": _one(ints(0, 1)),
        "DLAY": _one(ints(0, 5)),
        # data channels 1-4 show X, Y, R, theta by default
        "CDSP": StoredSetting((ints(0, 16),), range(0, 4), channel_defaults=(0, 1, 2, 3)),
        "CGRF": _one(ints(0, 1), range(0, 4)),
        "GSPD": _one(ints(0, 16)),
        "PSTF": _one(floats(0.001, 500_000.0, 1000.0), range(0, 4)),
        "PSTA": _one(floats(1e-9, 2.0, 1e-3), range(0, 4)),
        "PSTL": _one(floats(-5.0, 5.0), range(0, 4)),
        "SOFF": _one(floats(-5.0, 5.0)),
        "AUXV": _one(floats(-10.5, 10.5), range(0, 4)),
        "COUT": StoredSetting((ints(0, 1, tokens=("XY", "RTHeta")),), range(0, 2),
                              channel_tokens=("OCH1", "OCH2")),
        "*PSC": _one(ints(0, 1, 1)),
        # Stored and read back, not applied to the outputs (docs/conformance-sr860.md):
        # chopper blade, output offset / expand / ratio per X, Y, R
        "BLADESLOTS": _one(ints(0, 1, tokens=("SLT6", "SLT30"))),
        "BLADEPHASE": _one(floats(-360_000.0, 360_000.0)),
        "CEXP": StoredSetting((ints(0, 2, tokens=("OFF", "X10", "X100")),), range(0, 3),
                              channel_tokens=_XYR),
        "COFA": StoredSetting((ints(0, 1, tokens=("OFF", "ON")),), range(0, 3),
                              channel_tokens=_XYR),
        "COFP": StoredSetting((floats(-999.99, 999.99),), range(0, 3), channel_tokens=_XYR),
        "CRAT": StoredSetting((ints(0, 1, tokens=("OFF", "ON")),), range(0, 3),
                              channel_tokens=_XYR),
        # front-panel chart, FFT display, scan set-up, data streaming set-up, system
        "GLIV": _one(ints(0, 1, 1)),
        "PCUR": _one(ints(0, 639, 320)),
        "CURREL": _one(ints(0, 1)),
        "CURDISP": _one(ints(0, 1)),
        "CURBUG": _one(ints(0, 2)),
        "FCRW": _one(ints(0, 2)),
        "GSCL": _one(floats(1e-12, 1e12, 1.0), range(0, 4)),
        "GOFF": _one(floats(-1e12, 1e12), range(0, 4)),
        "FFTR": _one(ints(0, 2)),
        "FFTS": _one(ints(-9, 8)),
        "FFTO": _one(floats(-200.0, 200.0)),
        "FFTSPAN": _one(ints(0, 20)),
        "FFTA": _one(ints(0, 4)),
        "FFTL": _one(ints(0, 1, 1)),
        "SCNPAR": _one(ints(0, 4)),
        "SCNLOG": _one(ints(0, 1)),
        "SCNEND": _one(ints(0, 2)),
        "SCNSEC": _one(floats(1.0, 1e6, 10.0)),
        "SCNAMPATTN": _one(ints(0, 1)),
        "SCNDCATTN": _one(ints(0, 1)),
        "SCNINRVL": _one(ints(0, 16)),
        "SCNFREQ": _one(floats(0.001, 500_000.0, 1000.0), range(0, 2)),
        "SCNAMP": _one(floats(0.0, 2.0), range(0, 2)),
        "SCNDC": _one(floats(-5.0, 5.0), range(0, 2)),
        "SCNAUX1": _one(floats(-10.5, 10.5), range(0, 2)),
        "SCNAUX2": _one(floats(-10.5, 10.5), range(0, 2)),
        "STREAMCH": _one(ints(0, 3, tokens=("X", "XY", "RT", "XYRT"))),
        "STREAMRATE": _one(ints(0, 20)),
        "STREAMFMT": _one(ints(0, 1)),
        "STREAMPCKT": _one(ints(0, 3)),
        "STREAMPORT": _one(ints(1024, 65535, 1865)),
        "STREAMOPTION": _one(ints(0, 3, 2)),
        "BLAZEX": _one(ints(0, 2)),
        "KEYC": _one(ints(0, 1)),
        "PRMD": _one(ints(0, 2)),
        "SDFM": _one(ints(0, 1)),
        "FNUM": _one(ints(0, 99_999)),
        "OVRM": _one(ints(0, 1)),
        "LOCL": _one(ints(0, 2)),
    },
    # assumed equal to the SR830's (not checked against an SR860's *RST)
    defaults=dict(SR830_EMULATED.defaults),
    phase_range_deg=(-360_000.0, 360_000.0),
    aux_out_channels=range(0, 4),
    aux_in_channels=range(0, 4),
    optional_commands=frozenset(
        {"ASCL", "SNAPD", "CUROVLDSTAT", "ENBW", "FREQDET", "FREQEXT", "TBSTAT", "OUTR", "ILVL",
         "ARNG", "OAUT", "*TST"}
    ),
    aliases={"FREQINT": "FREQ"},
    formats={"SLVL": "{:.9e}", "PHAS": "{:.7f}"},
    output_sources=_sr860_output_sources,
    output_settings=frozenset({"COUT"}),
)

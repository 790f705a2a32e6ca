"""What each simulated instrument does with every command of its manual's command list.

One table per ASCII instrument (SR830, SR860, Lake Shore 372): a row per command of the
manual's list, with its status and what is behind it, and the exact exchanges that show it
(a line sent, the reply it must get in the manual's format). The documentation
(``docs/conformance-*.md``, written by ``tools/conformance_docs.py``) and the conformance
suite (``tests/simulators/test_conformance.py``) both read these tables, so a row cannot be
documented without being tested.

Statuses:

* ``EMULATED``: state or physics behind it (the lab's lock-in, fridge, clock; a buffer).
* ``STORED``: accepted in every argument form the manual gives, validated, kept and read
  back, but it changes nothing else (a display setting, an offset not applied to outputs).
* ``NOT_EMULATED``: treated as an unknown command (no reply, the command-error bit of
  ``*ESR?``), with the reason.

Rows of stored settings are generated from the emulators' own setting tables
(:mod:`.srs_models`, :mod:`.lakeshore372_settings`), with a set form for the lowest, highest
and each token value and a query form that must read the value back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .lakeshore372_settings import HTRSET_FIELDS, SETTINGS
from .srs_models import SR830_EMULATED, SR860_EMULATED, EmulatedModel, StoredSetting

EMULATED = "emulated"
STORED = "stored"
NOT_EMULATED = "not emulated"

# Reply formats, as regular expressions (the strict reader of the suite anchors them).
INT = r"-?\d+"
BIT = r"[01]"
SRS_NUMBER = r"-?\d\.\d{6}e[-+]\d{2}"  # outputs: 6 decimals, exponent
FLOAT = r"[-+]?\d+(\.\d*)?([eE][-+]?\d+)?"
LS_NUMBER = r"[-+]\d\.\d{5}E[-+]\d{2}"  # Lake Shore readings: +1.23456E+02


@dataclass(frozen=True)
class Form:
    """One exchange: ``send`` (one line; set commands before a query are allowed) and the
    reply's pattern without its terminator (``None``: no reply at all). ``binary``: the reply
    carries no terminator (a definite-length block or raw binary)."""

    send: str
    reply: str | None = None
    binary: bool = False


@dataclass(frozen=True)
class Row:
    command: str  # mnemonic as in the manual's list (query-only ones end in "?")
    syntax: str
    status: str
    behind: str
    forms: tuple[Form, ...] = field(default_factory=tuple)


def _q(send: str, reply: str) -> Form:
    return Form(send, reply)


def _s(send: str) -> Form:
    return Form(send, None)


# --- SRS: stored settings generated from the model tables -------------------------------------

def _srs_value_text(kind: type, value: float) -> str:
    return str(int(value)) if kind is int else f"{value:.6g}"


def _srs_stored_rows(model: EmulatedModel, notes: dict[str, str]) -> list[Row]:
    rows = []
    for name, setting in model.stored.items():
        rows.append(Row(name, _srs_syntax(name, setting), STORED,
                        notes.get(name, "kept and read back; no physics behind it"),
                        tuple(_srs_stored_forms(name, setting))))
    return rows


def _srs_syntax(name: str, setting: StoredSetting) -> str:
    args = (["i"] if setting.channels is not None else []) + \
        [chr(ord("j") + k) for k in range(len(setting.fields))]
    return f"{name}(?) {', '.join(args)}"


def _srs_stored_forms(name: str, setting: StoredSetting) -> list[Form]:
    channel_forms: list[tuple[str, str]] = [("", "")]
    if setting.channels is not None:
        first = setting.channels.start
        channel_forms = [(f"{first},", f" {first}"),
                         (f"{setting.channels.stop - 1},", f" {setting.channels.stop - 1}")]
        channel_forms += [(f"{token},", f" {token}") for token in setting.channel_tokens]
    forms = []
    for set_prefix, query_arg in channel_forms:
        values_sets: list[list[tuple[str, str]]] = [[], []]
        for f in setting.fields:
            for index, value in enumerate((f.low, f.high)):
                values_sets[index].append((_srs_value_text(f.kind, value),
                                           _srs_value_text(f.kind, value)))
        for values in values_sets:
            sent = ",".join(text for text, _ in values)
            expected = ",".join(text for _, text in values)
            forms.append(_q(f"{name} {set_prefix}{sent};{name}?{query_arg}",
                            _literal(expected)))
        # the SR860's tokens (first field only: every setting with tokens has one field)
        for offset, token in enumerate(setting.fields[0].tokens):
            value = int(setting.fields[0].low) + offset
            forms.append(_q(f"{name} {set_prefix}{token};{name}?{query_arg}", str(value)))
    return forms


def _literal(text: str) -> str:
    return text.replace(".", r"\.").replace("+", r"\+")


# --- SR830 ------------------------------------------------------------------------------------

_SR830_NOTES = {
    "ISRC": "input configuration: kept; the lab's signal does not depend on it",
    "RMOD": "dynamic reserve: kept; no reserve physics (overloads follow the lab)",
    "DDEF": "display: what CH1/CH2 show for OUTR?, SNAP? 10/11, the data buffer and FPOP 0",
    "FPOP": "what the CH1/CH2 outputs carry: routed to the lab's analog outputs (Nanonis "
            "inputs)",
    "OEXP": "offset and expand: kept; not applied to the outputs",
    "AUXV": "aux outputs: kept and read by SNAP?/OAUX; nothing in the lab is wired to them",
}

SR830_ROWS: list[Row] = [
    Row("PHAS", "PHAS(?) x", EMULATED, "reference phase of the lab's lock-in",
        (_q("PHAS 45;PHAS?", r"45\.000"), _q("PHAS -360;PHAS?", r"0\.000"))),
    Row("FREQ", "FREQ(?) f", EMULATED, "reference frequency of the lab's lock-in",
        (_q("FREQ 377;FREQ?", "377"), _q("FREQ 1.5e3;FREQ?", "1500"))),
    Row("HARM", "HARM(?) i", EMULATED, "detection harmonic (the lab demodulates at it)",
        (_q("HARM 2;HARM?", "2"),)),
    Row("SLVL", "SLVL(?) x", EMULATED, "sine amplitude: the junction's modulation",
        (_q("SLVL 0.1;SLVL?", r"0\.100"), _q("SLVL 5;SLVL?", r"5\.000"))),
    Row("SENS", "SENS(?) i", EMULATED, "full scale: output saturation and overload bits",
        (_q("SENS 0;SENS?", "0"), _q("SENS 26;SENS?", "26"))),
    Row("OFLT", "OFLT(?) i", EMULATED, "time constant of the lab's output filter",
        (_q("OFLT 0;OFLT?", "0"), _q("OFLT 19;OFLT?", "19"))),
    Row("OFSL", "OFSL(?) i", EMULATED, "filter slope (6-24 dB/oct cascade)",
        (_q("OFSL 0;OFSL?", "0"), _q("OFSL 3;OFSL?", "3"))),
    Row("OUTP?", "OUTP? i", EMULATED, "X, Y, R, theta of the lab's lock-in now",
        tuple(_q(f"OUTP? {i}", SRS_NUMBER) for i in range(1, 5))),
    Row("OUTR?", "OUTR? i", EMULATED, "what display CH1/CH2 shows (DDEF)",
        (_q("OUTR? 1", SRS_NUMBER), _q("DDEF 2,1,0;OUTR? 2", SRS_NUMBER))),
    Row("SNAP?", "SNAP? i, j{, k, l, m, n}", EMULATED, "2-6 parameters at one instant",
        (_q("SNAP? 1,2", f"{SRS_NUMBER},{SRS_NUMBER}"),
         _q("SNAP? 1,2,3,4,9,10", ",".join([SRS_NUMBER] * 6)))),
    Row("OAUX?", "OAUX? i", EMULATED, "aux inputs: 0 V (nothing is wired to them)",
        (_q("OAUX? 1", SRS_NUMBER),)),
    Row("AGAN", "AGAN", EMULATED, "auto gain: the finest full scale holding R",
        (_s("AGAN"),)),
    Row("APHS", "APHS", EMULATED, "auto phase: Y to zero", (_s("APHS"),)),
    Row("AOFF", "AOFF i", STORED, "auto offset: sets the OEXP offset of X, Y or R to cancel "
        "it (offsets are not applied to the outputs)", (_q("AOFF 1;OEXP? 1", f"{FLOAT},0"),)),
    Row("ARSV", "ARSV", STORED, "auto reserve: accepted; no reserve physics", (_s("ARSV"),)),
    Row("SSET", "SSET i", EMULATED, "settings memory 1-9 (physics included), until power-off",
        (_s("SSET 1"),)),
    Row("RSET", "RSET i", EMULATED, "recall SSET memory", (_q("SSET 2;SENS 3;RSET 2;SENS?",
                                                                INT),)),
    Row("SRAT", "SRAT(?) i", EMULATED, "data-buffer sample rate 62.5 mHz-512 Hz or trigger",
        (_q("SRAT 0;SRAT?", "0"), _q("SRAT 14;SRAT?", "14"), _q("SRAT10.000000;SRAT?", "10"))),
    Row("SEND", "SEND(?) i", EMULATED, "end of buffer: one shot or loop",
        (_q("SEND 0;SEND?", "0"), _q("SEND 1;SEND?", "1"))),
    Row("TSTR", "TSTR(?) i", EMULATED, "trigger starts storage",
        (_q("TSTR 1;TSTR?", "1"), _q("TSTR0;TSTR?", "0"))),
    Row("TRIG", "TRIG", EMULATED, "software trigger (starts / samples the buffer)",
        (_q("SRAT 14;TSTR 1;TRIG;TRIG;SPTS?", "2"),)),
    Row("STRT", "STRT", EMULATED, "start storage on the lab clock", (_q("STRT;SPTS?", INT),)),
    Row("STRD", "STRD", EMULATED, "start storage 0.5 s later", (_q("STRD;SPTS?", "0"),)),
    Row("PAUS", "PAUS", EMULATED, "pause storage", (_s("STRT;PAUS"),)),
    Row("REST", "REST", EMULATED, "reset the buffer", (_q("REST;SPTS?", "0"),)),
    Row("SPTS?", "SPTS?", EMULATED, "points stored", (_q("SPTS?", INT),)),
    Row("TRCA?", "TRCA? i, j, k", EMULATED, "buffer points as ASCII",
        (_q("SRAT 14;TSTR 1;TRIG;TRIG;TRCA? 1,0,2", f"{SRS_NUMBER},{SRS_NUMBER}"),)),
    Row("TRCB?", "TRCB? i, j, k", EMULATED, "buffer points as raw float32, no terminator",
        (Form("SRAT 14;TSTR 1;TRIG;TRCB? 2,0,1", r"[\s\S]{4}", binary=True),)),
    Row("TRCL?", "TRCL? i, j, k", EMULATED, "buffer points in the LIA format, no terminator",
        (Form("SRAT 14;TSTR 1;TRIG;TRIG;TRCL? 1,0,2", r"[\s\S]{8}", binary=True),)),
    Row("FAST", "FAST(?) i", STORED, "fast transfer mode: kept; no binary stream is sent "
        "during storage (a GPIB feature)", (_q("FAST 2;FAST?", "2"), _q("FAST 0;FAST?", "0"))),
    Row("*IDN?", "*IDN?", EMULATED, "identification",
        (_q("*IDN?", r"Stanford_Research_Systems,SR830,s/n\d+,ver[\d.]+"),)),
    Row("*RST", "*RST", EMULATED, "defaults, physics included", (_s("*RST"),)),
    Row("*CLS", "*CLS", EMULATED, "clears the status registers", (_s("*CLS"),)),
    Row("*ESE", "*ESE(?) {i,} j", EMULATED, "event status enable",
        (_q("*ESE 36;*ESE?", "36"), _q("*ESE 0,1;*ESE? 0", "1"))),
    Row("*ESR?", "*ESR? {i}", EMULATED, "event status (read and clear)",
        (_q("*ESR?", INT), _q("*ESR? 5", BIT))),
    Row("*SRE", "*SRE(?) {i,} j", EMULATED, "service request enable", (_q("*SRE 4;*SRE?", "4"),)),
    Row("*STB?", "*STB? {i}", EMULATED, "serial poll status", (_q("*STB?", INT),)),
    Row("*OPC", "*OPC(?)", EMULATED, "every command completes before the next",
        (_q("*OPC?", "1"),)),
    Row("ERRE", "ERRE(?) {i,} j", EMULATED, "error status enable", (_q("ERRE 3;ERRE?", "3"),)),
    Row("ERRS?", "ERRS? {i}", EMULATED, "error status (read and clear)", (_q("ERRS?", INT),)),
    Row("LIAE", "LIAE(?) {i,} j", EMULATED, "lock-in status enable",
        (_q("LIAE 7;LIAE?", "7"),)),
    Row("LIAS?", "LIAS? {i}", EMULATED, "lock-in status: the lab's overloads, latched",
        (_q("LIAS?", INT), _q("LIAS? 0", BIT))),
] + _srs_stored_rows(SR830_EMULATED, _SR830_NOTES)

# --- SR860 ------------------------------------------------------------------------------------

_SR860_NOTES = {
    "IVMD": "voltage/current input: kept; the lab's signal does not depend on it",
    "IRNG": "input range: kept; sets the scale of ILVL?",
    "COUT": "what the CH1/CH2 outputs carry: routed to the lab's analog outputs",
    "CDSP": "what data channels 1-4 show (SNAPD?, OUTR?)",
    "CEXP": "expand: kept; not applied to the outputs",
    "COFA": "offset on/off: kept; not applied to the outputs",
    "COFP": "offset percent: kept; not applied to the outputs",
    "CRAT": "ratio: kept; not applied to the outputs",
}

SR860_ROWS: list[Row] = [
    Row("PHAS", "PHAS(?) x", EMULATED, "reference phase of the lab's lock-in",
        (_q("PHAS 45;PHAS?", r"45\.0000000"),)),
    Row("FREQ", "FREQ(?) f", EMULATED, "reference frequency", (_q("FREQ 377;FREQ?", "377"),)),
    Row("FREQINT", "FREQINT(?) f", EMULATED, "internal frequency (same as FREQ here)",
        (_q("FREQINT 1000;FREQINT?", "1000"),)),
    Row("FREQEXT?", "FREQEXT?", EMULATED, "external reference: none connected (0 Hz)",
        (_q("FREQEXT?", SRS_NUMBER),)),
    Row("FREQDET?", "FREQDET?", EMULATED, "detection frequency", (_q("FREQDET?", FLOAT),)),
    Row("HARM", "HARM(?) i", EMULATED, "detection harmonic", (_q("HARM 3;HARM?", "3"),)),
    Row("SLVL", "SLVL(?) x", EMULATED, "sine amplitude: the junction's modulation",
        (_q("SLVL 0.25;SLVL?", r"2\.500000000e-01"),)),
    Row("SCAL", "SCAL(?) i", EMULATED, "full scale", (_q("SCAL 0;SCAL?", "0"),
                                                    _q("SCAL 27;SCAL?", "27"))),
    Row("OFLT", "OFLT(?) i", EMULATED, "time constant", (_q("OFLT 0;OFLT?", "0"),
                                                       _q("OFLT 21;OFLT?", "21"))),
    Row("OFSL", "OFSL(?) i", EMULATED, "filter slope", (_q("OFSL 2;OFSL?", "2"),)),
    Row("ENBW?", "ENBW?", EMULATED, "equivalent noise bandwidth of the filter",
        (_q("ENBW?", SRS_NUMBER),)),
    Row("ILVL?", "ILVL?", EMULATED, "input strength 0-4 from R against IRNG (thresholds "
        "ours: the manual gives none)", (_q("ILVL?", "[0-4]"),)),
    Row("TBSTAT?", "TBSTAT?", EMULATED, "time base: internal", (_q("TBSTAT?", "1"),)),
    Row("OUTP?", "OUTP? i", EMULATED, "output parameters by index or name",
        (_q("OUTP? 0", SRS_NUMBER), _q("OUTP? THeta", SRS_NUMBER), _q("OUTP? R", SRS_NUMBER))),
    Row("OUTR?", "OUTR? i", EMULATED, "data channel values (CDSP)",
        (_q("OUTR? 0", SRS_NUMBER), _q("OUTR? DAT4", SRS_NUMBER))),
    Row("SNAP?", "SNAP? i, j{, k}", EMULATED, "2-3 parameters at one instant",
        (_q("SNAP? X,Y", f"{SRS_NUMBER},{SRS_NUMBER}"),
         _q("SNAP? 0,1,2", ",".join([SRS_NUMBER] * 3)))),
    Row("SNAPD?", "SNAPD?", EMULATED, "the four data channels at one instant",
        (_q("SNAPD?", ",".join([SRS_NUMBER] * 4)),)),
    Row("OAUX?", "OAUX? i", EMULATED, "aux inputs: 0 V (nothing is wired)",
        (_q("OAUX? 0", SRS_NUMBER),)),
    Row("CUROVLDSTAT?", "CUROVLDSTAT?", EMULATED, "overloads now", (_q("CUROVLDSTAT?", INT),)),
    Row("APHS", "APHS", EMULATED, "auto phase", (_s("APHS"),)),
    Row("ASCL", "ASCL", EMULATED, "auto scale", (_s("ASCL"),)),
    Row("ARNG", "ARNG", STORED, "auto range: accepted; the simulated input needs none",
        (_s("ARNG"),)),
    Row("OAUT", "OAUT i", STORED, "auto offset: sets COFA/COFP of X, Y or R",
        (_q("OAUT 0;COFA? 0", "1"), _q("OAUT R;COFA? 2", "1"))),
    Row("CAPTURELEN", "CAPTURELEN(?) n", EMULATED, "capture buffer length, kB",
        (_q("CAPTURELEN 1;CAPTURELEN?", "1"), _q("CAPTURELEN 4096;CAPTURELEN?", "4096"))),
    Row("CAPTURECFG", "CAPTURECFG(?) i", EMULATED, "what each sample holds",
        (_q("CAPTURECFG 3;CAPTURECFG?", "3"), _q("CAPTURECFG XY;CAPTURECFG?", "1"),
         _q("CAPTURECFG RT;CAPTURECFG?", "2"), _q("CAPTURECFG X;CAPTURECFG?", "0"),
         _q("CAPTURECFG XYRT;CAPTURECFG?", "3"))),
    Row("CAPTURERATEMAX?", "CAPTURERATEMAX?", EMULATED, "fastest rate for the filter",
        (_q("CAPTURERATEMAX?", SRS_NUMBER),)),
    Row("CAPTURERATE", "CAPTURERATE n / CAPTURERATE?", EMULATED,
        "rate = max / 2^n; the query answers the rate in Hz",
        (_q("CAPTURERATE 0;CAPTURERATE?", SRS_NUMBER), _q("CAPTURERATE 20;CAPTURERATE?",
                                                        SRS_NUMBER))),
    Row("CAPTURESTART", "CAPTURESTART i, j", EMULATED,
        "acquisition (ONEshot, CONTinuous) and start (IMMediate; TRIGstart and SAMPpertrig "
        "wait for a hardware trigger the lab cannot give)",
        tuple(_q(f"CAPTURESTART {a};CAPTURESTAT?", s) for a, s in (
            ("0,0", "3"), ("1,0", "3"), ("ONE,IMM", "3"), ("CONT, IMM", "3"),
            ("ONESHOT,IMMEDIATE", "3"), ("CONTINUOUS,IMMEDIATE", "3"), ("ONE,TRIG", "0"),
            ("CONT,TRIGSTART", "0"), ("ONE,SAMP", "0"), ("1,2", "0")))),
    Row("CAPTURESTOP", "CAPTURESTOP", EMULATED, "stop capturing",
        (_q("CAPTURESTART 0,0;CAPTURESTOP;CAPTURESTAT?", "2"),)),
    Row("CAPTURESTAT?", "CAPTURESTAT?", EMULATED, "bits: recording, started, wrapped",
        (_q("CAPTURESTAT?", "[0-7]"),)),
    Row("CAPTUREBYTES?", "CAPTUREBYTES?", EMULATED, "bytes captured",
        (_q("CAPTUREBYTES?", INT),)),
    Row("CAPTUREPROG?", "CAPTUREPROG?", EMULATED, "kB captured in 2 kB steps",
        (_q("CAPTUREPROG?", INT),)),
    Row("CAPTUREVAL?", "CAPTUREVAL? n", EMULATED, "one sample as ASCII",
        (_q("CAPTURECFG 1;CAPTUREVAL? 0", f"{SRS_NUMBER},{SRS_NUMBER}"),)),
    Row("CAPTUREGET?", "CAPTUREGET? i, j", EMULATED,
        "IEEE 488.2 definite-length block #nccccxxxx, no terminator",
        (Form("CAPTURELEN 1;CAPTURESTART 0,0;CAPTURESTOP;CAPTUREGET? 0,1",
              r"#41024[\s\S]{1024}", binary=True),)),
    Row("*IDN?", "*IDN?", EMULATED, "identification",
        (_q("*IDN?", r"Stanford_Research_Systems,SR860,\d+,v[\d.]+"),)),
    Row("*RST", "*RST", EMULATED, "defaults, physics included", (_s("*RST"),)),
    Row("*CLS", "*CLS", EMULATED, "clears the status registers", (_s("*CLS"),)),
    Row("*TST?", "*TST?", STORED, "self test: passes (0)", (_q("*TST?", "0"),)),
    Row("*OPC", "*OPC(?)", EMULATED, "operation complete", (_q("*OPC?", "1"),)),
    Row("*ESE", "*ESE(?) {i,} j", EMULATED, "event status enable", (_q("*ESE 16;*ESE?", "16"),)),
    Row("*ESR?", "*ESR? {i}", EMULATED, "event status", (_q("*ESR?", INT),)),
    Row("*SRE", "*SRE(?) {i,} j", EMULATED, "service request enable", (_q("*SRE 8;*SRE?", "8"),)),
    Row("*STB?", "*STB? {i}", EMULATED, "serial poll status", (_q("*STB?", INT),)),
    Row("ERRE", "ERRE(?) {i,} j", EMULATED, "error status enable", (_q("ERRE 1;ERRE?", "1"),)),
    Row("ERRS?", "ERRS? {i}", EMULATED, "error status", (_q("ERRS?", INT),)),
    Row("LIAE", "LIAE(?) {i,} j", EMULATED, "lock-in status enable",
        (_q("LIAE 9;LIAE?", "9"),)),
    Row("LIAS?", "LIAS? {i}", EMULATED, "lock-in status: the lab's overloads, latched",
        (_q("LIAS?", INT),)),
    Row("*TRG", "*TRG", NOT_EMULATED, "triggers a TRIGstart capture on the instrument; the "
        "simulated lab has no trigger source, so such captures stay armed"),
    Row("TIME", "TIME(?) i{, j}", NOT_EMULATED, "the instrument's clock: use the host's"),
    Row("DATE", "DATE(?) i{, j}", NOT_EMULATED, "the instrument's calendar: use the host's"),
    Row("STREAM", "STREAM(?) i", NOT_EMULATED, "UDP data streaming is not simulated (its "
        "set-up commands are kept)"),
    Row("STREAMRATEMAX?", "STREAMRATEMAX?", NOT_EMULATED, "streaming is not simulated"),
    Row("SCNRUN", "SCNRUN", NOT_EMULATED, "the built-in scan would sweep the reference; not "
        "simulated (its set-up commands are kept)"),
    Row("SCNPAUSE", "SCNPAUSE", NOT_EMULATED, "scans are not simulated"),
    Row("SCNRST", "SCNRST", NOT_EMULATED, "scans are not simulated"),
    Row("SCNENBL", "SCNENBL(?) i", NOT_EMULATED, "scans are not simulated"),
    Row("SCNSTATE?", "SCNSTATE?", NOT_EMULATED, "scans are not simulated"),
    Row("FAUT", "FAUT", NOT_EMULATED, "FFT display auto scale: no screen"),
    Row("GACT", "GACT i", NOT_EMULATED, "chart auto scale: no screen"),
    Row("GAUF", "GAUF i", NOT_EMULATED, "chart auto find: no screen"),
    Row("SCRY?", "SCRY? i", NOT_EMULATED, "chart cursor read-out: no screen"),
    Row("FCRX?", "FCRX?", NOT_EMULATED, "FFT cursor read-out: no screen"),
    Row("FCRY?", "FCRY?", NOT_EMULATED, "FFT cursor read-out: no screen"),
    Row("FFTMAXSPAN?", "FFTMAXSPAN?", NOT_EMULATED, "FFT display: no screen"),
    Row("CURDATTIM?", "CURDATTIM?", NOT_EMULATED, "chart cursor time: no screen"),
    Row("CURINTERVAL?", "CURINTERVAL?", NOT_EMULATED, "chart cursor time: no screen"),
    Row("DCAP", "DCAP", NOT_EMULATED, "screen shot to a USB drive: no screen, no drive"),
    Row("SVDT", "SVDT", NOT_EMULATED, "data to a USB drive: no drive (read data over the "
        "interface instead)"),
    Row("FBAS", "FBAS(?) s", NOT_EMULATED, "USB file name prefix: no drive"),
    Row("FNXT?", "FNXT?", NOT_EMULATED, "USB file name: no drive"),
] + _srs_stored_rows(SR860_EMULATED, _SR860_NOTES)

# --- Lake Shore 372 ---------------------------------------------------------------------------


def _ls_stored_rows() -> list[Row]:
    rows = []
    samples = {"int": lambda f: (int(f.low), int(f.high)),
               "float": lambda f: (f.low, f.high),
               "text": lambda f: ("", "Stage 1"[: int(f.high)])}
    for name, setting in SETTINGS.items():
        where = ""
        if setting.addresses is not None:
            where = str(setting.addresses[-1])
        forms = []
        for index in (0, 1):
            values = [samples[f.kind](f)[index] for f in setting.fields]
            texts = [f'"{v}"' if f.kind == "text" else str(v)
                     for f, v in zip(setting.fields, values, strict=True)]
            expected = ",".join(_literal(f.fmt(v))
                                for f, v in zip(setting.fields, values, strict=True))
            prefix = f"{where}," if where else ""
            query = f"{name}? {where}" if where else f"{name}?"
            forms.append(_q(f"{name} {prefix}{','.join(texts)};{query}", expected))
        syntax = f"{name}(?) " + ("<addr>," if where else "") + ",".join(
            f"<{k}>" for k in range(len(setting.fields)))
        rows.append(Row(name, syntax, STORED, "kept and read back; no effect on the "
                        "simulated fridge or readings", tuple(forms)))
    htr = HTRSET_FIELDS
    rows.append(Row("HTRSET", "HTRSET(?) <output>,<resistance>,<max current>,<max user "
                    "current>,<current/power>", STORED,
                    "heater set-up: kept (display only on the instrument too)",
                    (_q("HTRSET 0,50,0,0,2;HTRSET? 0", r"\+050\.000,0,\+000\.000,2"),
                     _q("HTRSET 1,2,1,0.5,1;HTRSET? 1", r"2,1,\+000\.500,1"),
                     _q("HTRSET? 0", ",".join([r"\+\d{3}\.\d{3}", "0", r"\+000\.000", "[12]"]
                                              )))))
    assert set(htr) == {0, 1}
    return rows


LS372_ROWS: list[Row] = [
    Row("*IDN?", "*IDN?", EMULATED, "identification",
        (_q("*IDN?", r"LSCI,MODEL372,[^,]+,[\d.]+"),)),
    Row("*ESR?", "*ESR?", EMULATED, "event status (read and clear)", (_q("*ESR?", INT),)),
    Row("*ESE", "*ESE(?) <bit weighting>", EMULATED, "event status enable",
        (_q("*ESE 32;*ESE?", "32"),)),
    Row("*CLS", "*CLS", EMULATED, "clears the status", (_s("*CLS"),)),
    Row("*RST", "*RST", EMULATED, "factory defaults, heaters off", (_s("*RST"),)),
    Row("*OPC", "*OPC(?)", EMULATED, "operation complete", (_q("*OPC?", "1"),)),
    Row("*STB?", "*STB?", EMULATED, "status byte", (_q("*STB?", INT),)),
    Row("*TST?", "*TST?", STORED, "self test: passes (0)", (_q("*TST?", "0"),)),
    Row("*WAI", "*WAI", EMULATED, "commands run in order: nothing to wait for", (_s("*WAI"),)),
    Row("KRDG?", "KRDG? <input>", EMULATED, "temperature from the fridge through the "
        "sensor's curve (scanner dwell and pause)", (_q("KRDG? A", LS_NUMBER),
                                                    _q("KRDG? 6", LS_NUMBER))),
    Row("RDGK?", "RDGK? <input>", EMULATED, "Model 370 name of KRDG?",
        (_q("RDGK? 6", LS_NUMBER),)),
    Row("RDGR?", "RDGR? <input>", EMULATED, "sensor resistance",
        (_q("RDGR? 6", LS_NUMBER),)),
    Row("SRDG?", "SRDG? <input>", EMULATED, "sensor units reading (ohm)",
        (_q("SRDG? 6", LS_NUMBER), _q("SRDG? A", LS_NUMBER))),
    Row("RDGST?", "RDGST? <input>", EMULATED, "reading status bits",
        (_q("RDGST? 6", r"\d{3}"),)),
    Row("RDGPWR?", "RDGPWR? <input>", EMULATED, "excitation power from INTYPE and R",
        (_q("RDGPWR? 6", LS_NUMBER),)),
    Row("QRDG?", "QRDG? <channel>", EMULATED, "quadrature reading",
        (_q("QRDG? 6", LS_NUMBER),)),
    Row("INSET", "INSET(?) <input>,<enable>,<dwell>,<pause>,<curve>,<tempco>", EMULATED,
        "scanner settings", (_q("INSET 6,1,5,3,6,1;INSET? 6", "1,5,3,6,1"),)),
    Row("INTYPE", "INTYPE(?) <input>,<mode>,<excitation>,<autorange>,<range>,<cs shunt>,"
        "<units>", EMULATED, "excitation (RDGPWR?) and units (setpoint in ohm); control "
        "input A reports the range holding its sensor",
        (_q("INTYPE 6,0,5,0,10,0,2;INTYPE? 6", "0,5,0,10,0,2"),
         _q("INTYPE? A", r"1,[1-6],[01],([1-9]|1\d|2[0-2]),[01],[12]"))),
    Row("SCAN", "SCAN(?) <channel>,<autoscan>", EMULATED, "scanner channel and autoscan",
        (_q("SCAN 3,0;SCAN?", r"03,0"),)),
    Row("OUTMODE", "OUTMODE(?) <output>,<mode>,<input>,<powerup>,<polarity>,<filter>,"
        "<delay>", EMULATED, "heater mode and control input (the fridge's loop)",
        (_q("OUTMODE 0,2,6,0,0,0,1;OUTMODE? 0", "2,6,0,0,0,1"),)),
    Row("RANGE", "RANGE(?) <output>,<range>", EMULATED, "heater range",
        (_q("RANGE 0,3;RANGE? 0", "3"),)),
    Row("SETP", "SETP(?) <output>,<value>", EMULATED, "setpoint (K, or ohm in ohm units)",
        (_q("SETP 0,0.05;SETP? 0", r"\+5\.00000E-02"),)),
    Row("PID", "PID(?) <output>,<P>,<I>,<D>", EMULATED, "loop gains",
        (_q("PID 0,20,30,0;PID? 0", ",".join([LS_NUMBER] * 3)),)),
    Row("RAMP", "RAMP(?) <output>,<on>,<rate>", EMULATED, "setpoint ramp",
        (_q("RAMP 0,1,0.5;RAMP? 0", f"1,{LS_NUMBER}"),)),
    Row("RAMPST?", "RAMPST? <output>", EMULATED, "ramp running", (_q("RAMPST? 0", BIT),)),
    Row("MOUT", "MOUT(?) <output>,<value>", EMULATED, "manual output",
        (_q("MOUT 0,12.5;MOUT? 0", LS_NUMBER),)),
    Row("HTR?", "HTR?", EMULATED, "sample heater output", (_q("HTR?", LS_NUMBER),)),
    Row("AOUT?", "AOUT? <output>", EMULATED, "outputs 1, 2: open-loop manual output",
        (_q("AOUT? 1", LS_NUMBER),)),
    Row("HTRST?", "HTRST? <output>", EMULATED, "heater error: none (never open or short)",
        (_q("HTRST? 0", "0"),)),
    Row("EMUL", "EMUL(?) <off/on>", EMULATED, "Model 370 emulation: off only",
        (_q("EMUL?", "0"),)),
    Row("CRVHDR", "CRVHDR(?) <curve>,<name>,<SN>,<format>,<limit>,<coefficient>", EMULATED,
        "the wired sensors' curves are the simulation's; user curves 21-59 keep their header",
        (_q("CRVHDR? 6", r"[ -~]{15},[ -~]{10},[347],\+\d{3}\.\d{3},[12]"),
         _q('CRVHDR 21,"RX-102B","00011134",4,1.5,1;CRVHDR? 21',
            r"RX-102B {8},00011134  ,4,\+001\.500,1"))),
    Row("ALARMST?", "ALARMST? <input>", EMULATED, "high/low alarm from ALARM and the reading",
        (_q("ALARMST? 6", "[01],[01]"),
         _q("ALARM 6,1,1,0.001,0,0,0,0,0;ALARMST? 6", "1,0"))),
    Row("ALMRST", "ALMRST", EMULATED, "alarms are not latched: nothing to clear",
        (_s("ALMRST"),)),
    Row("RELAYST?", "RELAYST? <relay>", STORED, "relays never switch here (0)",
        (_q("RELAYST? 1", "0"),)),
    Row("OPST?", "OPST?", STORED, "operational status: 0", (_q("OPST?", INT),)),
    Row("OPSTR?", "OPSTR?", STORED, "operational status register: 0", (_q("OPSTR?", INT),)),
    Row("CRVPT", "CRVPT(?) <curve>,<index>,<units>,<temp>", NOT_EMULATED,
        "the simulation's curves are functions, not breakpoint tables"),
    Row("CRVDEL", "CRVDEL <curve>", NOT_EMULATED, "curves are the simulation's"),
    Row("INCRV", "INCRV(?) <input>,<curve>", NOT_EMULATED, "the curve is set with INSET"),
    Row("ZONE", "ZONE(?) <output>,<zone>,...", NOT_EMULATED, "zone tables: the fridge's zone "
        "mode uses its own PID"),
    Row("ANALOG", "ANALOG(?) <output>,...", NOT_EMULATED, "the analog/still output is kept "
        "by OUTMODE/MOUT only"),
    Row("WARMUP", "WARMUP(?) <output>,...", NOT_EMULATED, "no warm-up heater in the fridge"),
    Row("DISPFLD", "DISPFLD(?) <field>,...", NOT_EMULATED, "front-panel fields: no screen"),
    Row("IEEE", "IEEE(?) ...", NOT_EMULATED, "GPIB address: the simulator is TCP only"),
    Row("NET", "NET(?) ...", NOT_EMULATED, "network set-up belongs to the host"),
    Row("NETID?", "NETID?", NOT_EMULATED, "network set-up belongs to the host"),
    Row("DFLT", "DFLT 99", NOT_EMULATED, "factory reset: use *RST"),
    Row("TUNEST?", "TUNEST?", NOT_EMULATED, "autotune is not simulated"),
] + _ls_stored_rows()

TABLES: dict[str, list[Row]] = {"SR830": SR830_ROWS, "SR860": SR860_ROWS, "LS372": LS372_ROWS}

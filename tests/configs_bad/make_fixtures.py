"""Regenerate the malformed fixtures of tests/configs_bad from the shipped configs.

Each fixture is a shipped file with one defect; line 1 names the key the error must blame
(``# expect: <key path>``). Run ``python tests/configs_bad/make_fixtures.py`` after changing a
shipped config, then review the diff: the fixtures are committed, so tests never depend on
this script.
"""

from pathlib import Path

root = Path(__file__).resolve().parents[2]
out = Path(__file__).resolve().parent
base = (root / "configs/simulated.yaml").read_text()
# drop the header comments of the base so the expected-key comment is on line 1
base = "\n".join(l for l in base.splitlines() if not l.startswith("#")).lstrip() + "\n"
tcp = (root / "configs/simulated-tcp.yaml").read_text()
tcp = "\n".join(l for l in tcp.splitlines() if not l.startswith("#")).lstrip() + "\n"
lab = (root / "configs/lab-example.yaml").read_text()
lab = "\n".join(l for l in lab.splitlines() if not l.startswith("#")).lstrip() + "\n"

def sub(text, old, new, count=1):
    if old not in text:
        raise SystemExit(f"fixture source changed: {old!r} not found")
    return text.replace(old, new, count)

S = []  # (name, expected key, text)
def st(name, key, text): S.append((f"station-{name}.yaml", key, text))

st("unknown-top-key", "instrumentz", base + "instrumentz: {}\n")
st("misspelt-address-key", "instruments.lockin.adress",
   sub(base, "    driver: sr830\n", "    driver: sr830\n    adress: GPIB0::8::INSTR\n"))
st("unknown-driver", "instruments.lockin.driver", sub(base, "driver: sr830", "driver: sr831"))
st("missing-driver", "instruments.lockin.driver", sub(base, "    driver: sr830\n", ""))
st("real-without-address", "instruments.lockin.address",
   sub(lab, "    address: GPIB0::8::INSTR\n", ""))
st("gpib-address-out-of-range", "instruments.lockin.address",
   sub(lab, "GPIB0::8::INSTR", "GPIB0::42::INSTR"))
st("garbled-visa-address", "instruments.lockin.address",
   sub(lab, "GPIB0::8::INSTR", "GPIB0:8:INSTR"))
st("nanonis-visa-address", "instruments.stm.address",
   sub(lab, "address: 127.0.0.1:6501", "address: TCPIP::127.0.0.1::6501::SOCKET"))
st("lakeshore-host-port-address", "instruments.fridge.address",
   sub(lab, "TCPIP::192.0.2.10::7777::SOCKET", "192.0.2.10:7777"))
st("tcp-port-out-of-range", "instruments.fridge.address",
   sub(lab, "TCPIP::192.0.2.10::7777::SOCKET", "TCPIP::192.0.2.10::77777::SOCKET"))
st("bad-ipv4", "instruments.stm.address", sub(lab, "127.0.0.1:6501", "127.0.0.300:6501"))
st("simulated-not-bool", "instruments.lockin.simulated",
   sub(base, "    simulated: true          # in-process: no address needed", "    simulated: maybe"))
st("role-names-missing-instrument", "roles.lockin", sub(base, "  lockin: lockin", "  lockin: sr830-2"))
st("role-wrong-driver", "roles.feedback", sub(base, "  feedback: stm", "  feedback: lockin"))
st("missing-required-role", "roles.temperature", sub(base, "  temperature: fridge\n", ""))
st("unknown-role", "roles.camera", sub(base, "  feedback: stm\n", "  feedback: stm\n  camera: stm\n"))
st("duplicate-instrument-name", "instruments.lockin",
   sub(base, "  stm:\n", "  lockin:\n    driver: sr860\n    simulated: true\n  stm:\n"))
st("duplicate-section", "limits", base + "limits: {}\n")
st("max-bias-too-high", "limits.max_bias_V", sub(base, "max_bias_V: 5.0e-3", "max_bias_V: 12"))
st("max-bias-negative", "limits.max_bias_V", sub(base, "max_bias_V: 5.0e-3", "max_bias_V: -5.0e-3"))
st("max-setpoint-text", "limits.max_setpoint_A",
   sub(base, "max_setpoint_A: 1.5e-6", "max_setpoint_A: 1.5 uA"))
st("max-setpoint-too-high", "limits.max_setpoint_A",
   sub(base, "max_setpoint_A: 1.5e-6", "max_setpoint_A: 0.5"))
st("allowed-heater-range-9", "limits.allowed_heater_ranges.2",
   sub(base, "allowed_heater_ranges: [0, 1, 2, 3, 4, 5, 6, 7]", "allowed_heater_ranges: [0, 1, 9]"))
st("z-limits-reversed", "limits.z_limits_m",
   sub(base, "z_limits_m: [-2.0e-7, 2.0e-7]", "z_limits_m: [2.0e-7, -2.0e-7]"))
st("z-limits-one-value", "limits.z_limits_m",
   sub(base, "z_limits_m: [-2.0e-7, 2.0e-7]", "z_limits_m: [2.0e-7]"))
st("ramp-zero", "limits.setpoint_ramp_A_per_s",
   sub(base, "setpoint_ramp_A_per_s: 1.0e-7", "setpoint_ramp_A_per_s: 0"))
st("ceiling-negative", "limits.temperature_ceiling_K",
   sub(base, "temperature_ceiling_K: 2.0", "temperature_ceiling_K: -1"))
st("missing-limit", "limits.max_modulation_Vrms", sub(base, "  max_modulation_Vrms: 50.0e-6\n", ""))
st("band-heater-range-9", "temperature_control.bands.0.heater_range",
   sub(base, "{up_to_K: 0.08, heater_range: 3", "{up_to_K: 0.08, heater_range: 9"))
st("band-heater-range-not-allowed", "temperature_control.bands.4.heater_range",
   sub(base, "{up_to_K: 2.0, heater_range: 7", "{up_to_K: 2.0, heater_range: 8"))
st("bands-unsorted", "temperature_control.bands.2.up_to_K",
   sub(base, "{up_to_K: 0.6,", "{up_to_K: 0.15,"))
st("pid-two-values", "temperature_control.bands.0.pid",
   sub(base, "pid: [1000, 25, 0]}", "pid: [1000, 25]}"))
st("settle-timeout-before-dwell", "temperature_control.settle.timeout_s",
   sub(base, "timeout_s: 1800", "timeout_s: 60"))
st("safe-heater-range-12", "temperature_control.safe_heater_range",
   sub(base, "safe_heater_range: 0", "safe_heater_range: 12"))
st("unknown-sample", "simulation.sample", sub(base, "sample: InO-2 ", "sample: InO-9 "))
st("custom-sample-gaps", "simulation.sample.Delta_c_eV",
   sub(base, "sample: InO-2 ", "sample: {preset: InO-2, E_g_eV: 1.0e-4, Delta_c_eV: 2.0e-4} "))
st("clock-unknown", "simulation.clock", sub(base, "clock: virtual ", "clock: fast "))
st("tip-position-in-nm", "simulation.tip_xy_m", sub(base, "tip_xy_m: [0.0, 0.0]", "tip_xy_m: [100, 20]"))
st("fault-missing-delay", "simulation.faults.0.delay_s",
   sub(base, "  faults: []", "  faults:\n    - {kind: delay, instrument: lockin, after_commands: 10}"))
st("fault-unknown-kind", "simulation.faults.0.kind",
   sub(base, "  faults: []", "  faults:\n    - {kind: meltdown, instrument: lockin}"))
st("fault-unknown-instrument", "simulation.faults.0.instrument",
   sub(base, "  faults: []", "  faults:\n    - {kind: drop_connection, instrument: lakeshore, after_commands: 5}"))
st("fault-no-trigger", "simulation.faults.1",
   sub(base, "  faults: []", "  faults:\n    - {kind: garble, instrument: lockin, probability: 0.01}\n"
       "    - {kind: restart, instrument: fridge}"))
st("fault-misspelt-field", "simulation.faults.0.delta_k",
   sub(base, "  faults: []", "  faults:\n    - {kind: temperature_spike, at_time_s: 600, delta_k: 0.2, duration_s: 60}"))
st("lakeshore-channel-17", "instruments.fridge.options.channels.still",
   sub(base, "still: 3,", "still: 17,"))
st("lakeshore-control-channel-unknown", "instruments.fridge.options.control_channel",
   sub(base, "control_channel: mixing_chamber", "control_channel: mxc"))
st("nanonis-ports-without-address-port", "instruments.stm.options.ports",
   sub(lab, "ports: [6501, 6502, 6503, 6504]", "ports: [6502, 6503]"))
st("nanonis-lockin-signals-equal", "instruments.stm.options.lockin_y_signal",
   sub(lab, 'lockin_y_signal: "Input 2 (V)"', 'lockin_y_signal: "Input 1 (V)"'))
st("tcp-simulated-without-address", "instruments.lockin.address",
   sub(tcp, "    address: TCPIP::127.0.0.1::18830::SOCKET\n", ""))
st("simulated-without-simulation", "instruments.lockin.simulated",
   base[:base.index("simulation:")] + base[base.index("limits:"):])
st("preamp-gain-not-listed", "preamp.gain_V_per_A", sub(base, "gain_V_per_A: 1.0e8", "gain_V_per_A: 3.0e8"))
st("smtp-bad-email", "notifications.smtp.to.0", sub(lab, "to: [physicist@example.org]", "to: [physicist]"))
st("smtp-from-missing", "notifications.smtp.from", sub(lab, "    from: stm@example.org\n", ""))
st("instrument-name-with-space", "instruments.lock in",
   sub(sub(base, "  lockin:\n    driver: sr830", "  lock in:\n    driver: sr830"), "  lockin: lockin", "  lockin: lock in"))
st("python-object-tag", "output_dir",
   sub(base, "output_dir: runs", "output_dir: !!python/object/apply:os.getcwd []"))
st("custom-tag", "simulation.sample", sub(base, "sample: InO-2 ", "sample: !include sample.yaml "))
st("top-level-list", "(top level)", "- name: lab\n- instruments: {}\n")
st("not-yaml", "(top level)", "name: lab\ninstruments: {lockin: [driver: sr830\n")
st("tabs-indentation", "(top level)", "name: lab\ninstruments:\n\tlockin: {}\n")
st("several-documents", "(top level)", base + "---\n" + base)
st("empty-output-dir", "output_dir", sub(base, "output_dir: runs", "output_dir: ''"))
st("name-missing", "name", sub(base, "name: simulated-InO-2\n", ""))
st("virtual-clock-with-real-instrument", "simulation.clock",
   sub(base, "    driver: sr830\n    simulated: true          # in-process: no address needed",
       "    driver: sr830\n    simulated: false\n    address: GPIB0::8::INSTR"))
st("speedup-with-real-instrument", "simulation.speedup",
   sub(sub(tcp, "    driver: sr830\n    simulated: true", "    driver: sr830\n    simulated: false"),
       "speedup: 100", "speedup: 100 "))
st("heater-range-on", "temperature_control.safe_heater_range",
   sub(base, "safe_heater_range: 0", "safe_heater_range: on"))
st("lab-fault-with-probability", "simulation.faults.0.probability",
   sub(base, "  faults: []", "  faults:\n    - {kind: tip_change, at_time_s: 60, probability: 0.5}"))

for name, key, text in S:
    (out / name).write_text(f"# expect: {key}\n{text}")
(out / "station-empty.yaml").write_text("# expect: (top level)\n# nothing but comments\n")
(out / "station-binary.yaml").write_bytes(b"# expect: (top level)\n\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")

# ---------------------------------------------------------------------------------- plans
single = (root / "configs/plans/setpoint-sweep.yaml").read_text()
single = "\n".join(l for l in single.splitlines() if not l.startswith("#")).lstrip() + "\n"
quick = (root / "configs/plans/quick.yaml").read_text()
quick = "\n".join(l for l in quick.splitlines() if not l.startswith("#")).lstrip() + "\n"
grid = (root / "configs/plans/overnight-grid.yaml").read_text()
grid = "\n".join(l for l in grid.splitlines() if not l.startswith("#")).lstrip() + "\n"
survey = (root / "configs/plans/position-survey.yaml").read_text()
survey = "\n".join(l for l in survey.splitlines() if not l.startswith("#")).lstrip() + "\n"
tsweep = (root / "configs/plans/temperature-sweep.yaml").read_text()
tsweep = "\n".join(l for l in tsweep.splitlines() if not l.startswith("#")).lstrip() + "\n"
cool = (root / "configs/plans/cooldown.yaml").read_text()
cool = "\n".join(l for l in cool.splitlines() if not l.startswith("#")).lstrip() + "\n"

P = []
def pl(name, key, text): P.append((f"plan-{name}.yaml", key, text))

pl("unknown-kind", "kind", sub(single, "kind: setpoint_sweep", "kind: setpoint_scan"))
pl("no-kind-no-steps", "kind", sub(single, "kind: setpoint_sweep\n", ""))
pl("fractional-n-setpoints", "n_setpoints", sub(single, "n_setpoints: 31", "n_setpoints: 3.5"))
pl("negative-start-current", "I_start_A", sub(single, "I_start_A: 1.0e-9", "I_start_A: -1.0e-9"))
pl("start-current-text", "I_start_A", sub(single, "I_start_A: 1.0e-9", "I_start_A: 1 nA"))
pl("huge-stop-current", "I_stop_A", sub(single, "I_stop_A: 1.0e-6", "I_stop_A: 2.0e-3"))
pl("bias-start-equals-stop", "bias_stop_V", sub(single, "bias_stop_V: 1.5e-3", "bias_stop_V: -1.5e-3"))
pl("bias-out-of-range", "bias_start_V", sub(single, "bias_start_V: -1.5e-3", "bias_start_V: -15"))
pl("one-bias-point", "n_bias", sub(single, "n_bias: 301", "n_bias: 1"))
pl("acquisition-unknown", "acquisition", sub(single, "acquisition: lockin ", "acquisition: scope "))
pl("zero-setpoint-bias", "V_sp_V", sub(single, "V_sp_V: -3.0e-3", "V_sp_V: 0"))
pl("modulation-too-big", "modulation_Vrms", sub(single, "modulation_Vrms: 20.0e-6", "modulation_Vrms: 2.0"))
pl("misspelt-key-in-step", "steps.0.n_bias_points", sub(quick, "    n_bias: 41\n", "    n_bias_points: 41\n", 1))
pl("duplicate-key-in-step", "steps.0.n_bias", sub(quick, "    n_bias: 41\n", "    n_bias: 41\n    n_bias: 81\n", 1))
pl("second-step-bad-setpoint", "steps.1.setpoint_A", sub(quick, "setpoint_A: 1.0e-6", "setpoint_A: 0"))
pl("steps-empty", "steps", "name: nothing\nsteps: []\n")
pl("steps-not-a-list", "steps", "name: nothing\nsteps: {kind: cooldown}\n")
pl("step-without-kind", "steps.0.kind", "name: x\nsteps:\n  - {target_K: 0.06, interval_s: 30, max_duration_s: 600}\n")
pl("negative-temperature", "temperatures_K.1", sub(grid, "[0.065, 0.5, 1.0, 1.4]", "[0.065, -0.5, 1.0, 1.4]"))
pl("temperature-500K", "temperatures_K.3", sub(grid, "[0.065, 0.5, 1.0, 1.4]", "[0.065, 0.5, 1.0, 500]"))
pl("temperature-range-missing-n", "temperatures_K.n",
   sub(tsweep, "{start: 0.065, stop: 1.6, n: 14, spacing: linear}", "{start: 0.065, stop: 1.6}"))
pl("temperature-range-unknown-key", "temperatures_K.step",
   sub(tsweep, "n: 14, spacing: linear}", "n: 14, step: 0.1}"))
pl("log-setpoints-from-zero", "setpoints_A",
   sub(grid, "{start: 1.0e-9, stop: 1.0e-6, n: 7, spacing: log}", "{start: 0, stop: 1.0e-6, n: 7, spacing: log}"))
pl("position-three-coordinates", "positions_m.1",
   sub(grid, "  - [50.0e-9, 0.0]", "  - [50.0e-9, 0.0, 1.0e-9]"))
pl("position-in-nanometres", "positions_m.2.1", sub(grid, "  - [0.0, 50.0e-9]", "  - [0.0, 50]"))
pl("repeats-zero", "repeats", sub(grid, "repeats: 2", "repeats: 0"))
pl("survey-grid-and-positions", "(top level)", survey + "positions_m: [[0.0, 0.0]]\n")
pl("survey-low-above-high", "high_setpoint_A", sub(survey, "high_setpoint_A: 1.0e-6", "high_setpoint_A: 1.0e-9"))
pl("survey-grid-nx-zero", "grid.nx", sub(survey, "nx: 5", "nx: 0"))
pl("cooldown-duration-shorter-than-interval", "max_duration_s",
   sub(cool, "max_duration_s: 172800", "max_duration_s: 10"))
pl("cooldown-missing-target", "target_K", sub(cool, "target_K: 0.060\n", ""))
pl("python-tag", "steps.0.label",
   sub(quick, "  - kind: setpoint_sweep\n", "  - kind: setpoint_sweep\n    label: !!python/object/new:os.system [echo hi]\n"))
pl("not-yaml", "(top level)", "name: x\nsteps:\n  - kind: cooldown\n   target_K: 0.1\n")
pl("top-level-scalar", "(top level)", "just a sentence\n")
pl("n-bias-yes", "n_bias", sub(single, "n_bias: 301", "n_bias: yes"))

for name, key, text in P:
    (out / name).write_text(f"# expect: {key}\n{text}")
(out / "plan-empty.yaml").write_text("# expect: (top level)\n")
print(len(S) + 2, "station fixtures,", len(P) + 1, "plan fixtures")  # noqa: T201 - a script

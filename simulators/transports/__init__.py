"""Transports that carry instrument traffic to the emulators.

* :mod:`.inprocess` - :class:`~.inprocess.EmulatorAdapter` (a pymeasure Adapter over a line
  emulator) and :class:`~.inprocess.EmulatorSocket` (a socket-like object over the Nanonis
  frame emulator): fast, deterministic, virtual time.
* :mod:`.tcp` - :class:`~.tcp.LineServer` and :class:`~.tcp.FrameServer`: real loopback TCP
  servers that pyvisa-py and the vendors' own clients can talk to.
* :mod:`.station` - :class:`~.station.SimulatedStationServers`: every server of a simulated
  station on one virtual lab (what ``stm-andreev simulate`` runs).
* :mod:`.errors` - the exceptions they raise.

Import from the submodules; this package does not import them eagerly so that the fault
wrapper (:mod:`stm_andreev.simulators.faults`) can use :mod:`.errors` without pulling in
pymeasure or sockets.
"""

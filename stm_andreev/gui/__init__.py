"""The lab GUI (PyQt5 + pyqtgraph): a client of headless runs, never the engine itself.

Views, each a widget taking its collaborators as constructor arguments:

* :class:`~.dashboard.CooldownDashboard` (a sampler: :class:`~.cooldown.StationSampler`,
  :class:`~.cooldown.SimulatedCooldown`);
* :class:`~.run_control.RunControlWidget` (a :class:`stm_andreev.service.queue_store.RunQueue`, a
  :class:`stm_andreev.service.launcher.RunLauncher`, a follower factory);
* :class:`~.spectra_view.LiveSpectraWidget` (a follower factory);
* :class:`~.browse.BrowseWidget` (a directory);
* :class:`~.main_window.MainWindow` puts them in tabs; ``stm-andreev gui`` opens it.

Runs are ``stm-andreev run`` processes in their own session; the GUI reads their run files
(SWMR) and writes to their control channels, so closing or killing it never stops a run.
"""

"""The station service (``stm-andreev serve``): the queue, the running plan, an HTTP API and a
web page.

Modules, each named for what it holds:

* :mod:`.queue_store` - the persistent queue (also the GUI's);
* :mod:`.launcher` - starting ``stm-andreev run`` processes and finding them again;
* :mod:`.supervisor` - one plan at a time, holds, skip/retry, re-attach after a restart;
* :mod:`.monitor` - following the current run file into JSON-ready snapshots;
* :mod:`.core` - the loop thread tying the two together;
* :mod:`.auth`, :mod:`.limits` - token and request-size checks;
* :mod:`.streaming` - server-sent events;
* :mod:`.api` - the FastAPI application and the page in ``static/``.

Only :mod:`.api` and :mod:`.streaming` need the ``service`` extra (FastAPI, uvicorn); the rest is
plain Python, so the GUI imports the queue and launcher without them.
"""

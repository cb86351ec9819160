"""``celery-tune profile``: where a worker's time goes, sampled with py-spy.

:mod:`pyspy` runs py-spy, :mod:`sampler` attaches it to every process of a worker,
:mod:`trace` reads its chrometrace output, :mod:`classify` tells from a stack whether a thread
runs Python (holding the GIL), waits for the GIL, runs native code or is blocked,
:mod:`analysis` turns samples into per-process figures, :mod:`verdict` into plain words, and
:mod:`report` and :mod:`speedscope` write them out.
"""

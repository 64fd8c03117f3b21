"""A function run in a forked child process, its result sent back over a pipe; work split in two
halves for two such processes."""

from __future__ import annotations

import multiprocessing
import os
import time


class Child:
    """``fn(*args)`` in a forked process (its own core and interpreter, so a long LP solve
    slows no Python search; ``nice`` lowers its priority), the result sent back over a pipe;
    None where fork is missing."""

    def __init__(self, fn, *args, nice: int = 0):
        self.proc = None
        if "fork" not in multiprocessing.get_all_start_methods():
            return
        ctx = multiprocessing.get_context("fork")
        self.conn, child = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=self._run, args=(child, fn, args, nice), daemon=True)
        self.proc.start()
        child.close()

    @staticmethod
    def _run(conn, fn, args, nice):
        try:
            if nice:
                os.nice(nice)
            conn.send(fn(*args))
        except Exception:  # the parent treats it as no result
            conn.send(None)
        finally:
            conn.close()
            os._exit(0)

    def ready(self, timeout: float) -> bool:
        """Whether the result has arrived (waiting up to ``timeout`` seconds for it)."""
        return self.proc is not None and self.conn.poll(max(0.0, timeout))

    def result(self, timeout: float):
        """The result if it arrives within ``timeout`` seconds, else None (the child is killed)."""
        if self.proc is None:
            return None
        out = self.conn.recv() if self.conn.poll(max(0.0, timeout)) else None
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()
        self.conn.close()
        return out


def results(jobs: list[Child], until: float, progress=None, stage: str = "", info: dict | None = None) -> list:
    """Each job's result, waited for until ``until`` (perf_counter; None for a job that failed or
    had not answered by then); ``progress(stage, {**info, "seconds": ...})`` about once a
    second meanwhile."""
    start = time.perf_counter()
    while progress and time.perf_counter() < until:
        waiting = [job for job in jobs if not job.ready(0.0)]
        if not waiting:
            break
        waiting[0].ready(min(1.0, max(0.0, until - time.perf_counter())))
        progress(stage, {**(info or {}), "seconds": round(time.perf_counter() - start, 1)})
    return [job.result(timeout=until - time.perf_counter()) for job in jobs]


def balanced_halves(items: list, size) -> tuple[list[list], list[int]]:
    """``items`` in two lists of about the same total ``size(item)``, the biggest first, each to
    the lighter list (ties keep the given order); and the two totals."""
    out: list[list] = [[], []]
    load = [0, 0]
    for item in sorted(items, key=lambda x: -size(x)):
        h = 0 if load[0] <= load[1] else 1
        out[h].append(item)
        load[h] += size(item)
    return out, load

"""A function run in a forked child process, its result sent back over a pipe."""

from __future__ import annotations

import multiprocessing
import os


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

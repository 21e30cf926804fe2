"""SIGINT and SIGTERM stop any command the way Ctrl-C does.

The handler lives below the CLI so that file code (`outputs`) can ask
`raise_if_stopped` before it puts an output in place: a stop whose
KeyboardInterrupt was swallowed inside a library's C++ code then still
leaves nothing half-done behind."""

from __future__ import annotations

import sys

_active: "_interrupt_on_signals | None" = None


def raise_if_stopped() -> None:
    """Raise KeyboardInterrupt if a stop arrived while handlers are set,
    even one whose interrupt was lost in code that caught it."""
    if _active is not None and _active.received:
        raise KeyboardInterrupt(_active.received)


class _interrupt_on_signals:
    """SIGINT and SIGTERM both stop any command the way Ctrl-C does: training
    saves a checkpoint on the way out, and every command's temporary files
    are removed by the ``finally`` blocks that made them. (A shell starts
    background jobs with SIGINT ignored, and schedulers and ``timeout`` stop
    jobs with SIGTERM, which would otherwise end the process on the spot.)

    Python runs the handler wherever the main thread is, so its
    KeyboardInterrupt can land where it is lost: in a garbage-collector
    callback or a ``__del__`` (Python prints it and goes on; it is raised
    again here, at the next chance), or in a callback from TensorFlow's C++
    code (it comes out as another error; ``received`` tells that it was a
    stop). ``restore()`` puts the previous handlers back."""

    def __init__(self) -> None:
        import signal
        import threading

        self.received: str | None = None
        self._previous: dict = {}
        self._hook = sys.unraisablehook
        if threading.current_thread() is threading.main_thread():  # only the main thread may set handlers
            self._previous = {sig: signal.signal(sig, self._interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
            sys.unraisablehook = self._unraisable
            global _active
            _active = self

    def _interrupt(self, signum, frame):
        import signal

        self.received = signal.Signals(signum).name
        raise KeyboardInterrupt(self.received)

    def _unraisable(self, unraisable) -> None:
        if self.received and issubclass(unraisable.exc_type, KeyboardInterrupt):
            import _thread
            import signal
            import threading

            # The signal again in a moment, from another thread, so that the
            # handler runs once the main thread is out of this callback.
            again = threading.Timer(0.05, _thread.interrupt_main, (getattr(signal, self.received),))
            again.daemon = True
            again.start()
            return
        self._hook(unraisable)

    def restore(self) -> None:
        import signal

        global _active
        if _active is self:
            _active = None

        for sig, handler in self._previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        if self._previous:
            sys.unraisablehook = self._hook

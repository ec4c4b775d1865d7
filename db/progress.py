"""Progress bars for every stage: one constructor that honours --quiet and TQDM_DISABLE, and writes plain
lines, not a redrawn bar, when stderr is a file or a pipe.

On a terminal a bar redraws itself in place with carriage returns (tqdm). Redirected into a log, those
carriage returns pile up into one endless line, so there the bar writes one plain line every
LOG_INTERVAL_S seconds and a last one when it closes. It lives in db/ because every stage shows one.

`--quiet` (commands/options.py) sets TQDM_DISABLE for the command's duration, so bars drawn deep in a
library, or in a worker process, stay quiet without a flag threaded through every call.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable

from tqdm import tqdm

QUIET_ENV = "TQDM_DISABLE"  # tqdm's own switch: any value but "", 0, false or no silences every bar
LOG_INTERVAL_S = 30.0  # seconds between two lines of a bar written into a file or a pipe


def bars_silenced() -> bool:
    """True when TQDM_DISABLE is set to anything but "", "0", "false" or "no"."""
    return os.environ.get(QUIET_ENV, "").strip().lower() not in ("", "0", "false", "no")


class LogLines(tqdm):
    """A bar for logs: each display is one finished line, at most one per LOG_INTERVAL_S, plus a last one."""

    def __init__(self, *args, **kwargs) -> None:
        self._last_line = float("-inf")  # monotonic time of the last line written
        self._closing = False
        super().__init__(*args, **kwargs)

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        if msg == "":  # tqdm clearing the bar: a log keeps its lines
            return False
        now = time.monotonic()
        if msg is None and not self._closing and now - self._last_line < LOG_INTERVAL_S:
            return True
        self._last_line = now
        self.fp.write((self.__str__() if msg is None else msg) + "\n")
        self.fp.flush()
        return True

    def close(self) -> None:
        if not self.disable and hasattr(self, "last_print_t"):
            self._closing = True
            self.display()
        self.leave = False  # the last line is written; tqdm must not redraw or clear it
        super().close()


def progress(iterable: Iterable | None = None, *, enabled: bool = True, **kwargs) -> tqdm:
    """A tqdm bar on stderr (or `file=`): redrawn on a terminal, plain periodic lines otherwise.

    `enabled=False`, TQDM_DISABLE or --quiet make it silent; it still counts and iterates.
    """
    stream = kwargs.pop("file", None) or sys.stderr
    disable = not enabled or bars_silenced()
    if disable or _is_terminal(stream):
        return tqdm(iterable, file=stream, disable=disable, **kwargs)
    kwargs.pop("dynamic_ncols", None)
    kwargs.setdefault("mininterval", LOG_INTERVAL_S)
    if kwargs.get("total", getattr(iterable, "__len__", None)) is not None:
        kwargs.setdefault("bar_format", "{desc}: {n_fmt}/{total_fmt} ({percentage:.0f}%) "
                                        "[{elapsed} elapsed, {remaining} left, {rate_fmt}{postfix}]")
    return LogLines(iterable, file=stream, **kwargs)


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False

"""A Keras-style progress line: ``3/10 [=========>....................] - 1s 12ms/step``.

On a terminal the line is redrawn in place; otherwise (a log file, CI) only the final
line is written, so logs get one line per run instead of hundreds. With an unknown target
(a generator without ``len``) the line is ``3/Unknown - 1s 12ms/step``, and ``done()``
writes the last one.
"""
from __future__ import annotations

import sys
import time


class Progbar:
    def __init__(self, target, width: int = 30, stream=None, interactive=None):
        self.target = None if target is None else max(int(target), 1)
        self.width = width
        self.stream = stream if stream is not None else sys.stdout
        if interactive is None:
            isatty = getattr(self.stream, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive
        self.start = time.perf_counter()
        self.seen = 0

    def _line(self, current: int, values) -> str:
        if self.target is None:
            elapsed = time.perf_counter() - self.start
            line = f"{current}/Unknown - {elapsed:.0f}s {elapsed / max(current, 1) * 1000:.0f}ms/step"
            return line + "".join(f" - {name}: {value:.4f}" for name, value in values or ())
        filled = int(self.width * current / self.target)
        bar = "=" * max(filled - 1, 0) + (">" if current < self.target else "=") * (filled > 0)
        bar = bar.ljust(self.width, ".")
        elapsed = time.perf_counter() - self.start
        per_step = elapsed / max(current, 1)
        digits = len(str(self.target))
        line = f"{current:>{digits}}/{self.target} [{bar}]"
        if current < self.target:
            line += f" - ETA: {per_step * (self.target - current):.0f}s"
        else:
            line += f" - {elapsed:.0f}s {per_step * 1000:.0f}ms/step"
        for name, value in values or ():
            line += f" - {name}: {value:.4f}"
        return line

    def update(self, current: int, values=None) -> None:
        """Show progress after ``current`` steps; ``values`` is a list of (name, number)."""
        self.seen = current
        finished = self.target is not None and current >= self.target
        if self.interactive:
            self.stream.write("\r" + self._line(current, values))
            if finished:
                self.stream.write("\n")
            self.stream.flush()
        elif finished:
            self.stream.write(self._line(current, values) + "\n")
            self.stream.flush()

    def done(self, values=None) -> None:
        """End a bar whose target was unknown with its final line (a known target already has it)."""
        if self.target is not None:
            return
        if self.interactive:
            self.stream.write("\r" + self._line(self.seen, values) + "\n")
        else:
            self.stream.write(self._line(self.seen, values) + "\n")
        self.stream.flush()

    def finish(self, text: str) -> None:
        """End the bar with ``text`` as its last line (the epoch's summary), replacing the bar
        on a terminal; the only line written otherwise."""
        if self.interactive:
            self.stream.write("\r" + text.ljust(len(self._line(self.seen, None))) + "\n")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

"""An overhead budget: the insight callbacks of one run share a fixed slice of its time.

A callback's ``freq`` says how often it *may* log. With a budget, a scheduled log runs only
while the time all callbacks of the run have spent (setup, tracing, logging, writing) stays
within ``fraction`` of the training time measured so far::

    spent + estimate(log) <= fraction * training_seconds

``training_seconds`` is the sum of the epochs' wall time between ``on_epoch_begin`` and the
first member's ``on_epoch_end`` (the callbacks' own logs happen after that, so they are not
counted as training). A log that does not fit is *deferred*: it stays due and runs at the
next epoch end (or at train end) that has room, with that epoch's step, so nothing is
written with the wrong weights. At each epoch end (and at train end) the due callbacks are
granted greedily, the ones that have logged least first (ties in suite order), so every
view appears before any view appears twice. The estimate of a log is the costlier of that
callback's last two logs; for a callback that has never logged it is the costliest first log
so far (tracing included); before any view has logged, at most one log is granted per
epoch end, so the budget is exceeded by at most the errors of those guesses.

One-off costs (tracing a compiled function, a first log's setup) weigh most in short
runs, where a flat share would leave most views unwritten. So the budget may run ahead of
its share early on: up to ``early_fraction`` of the training time so far, but no more in
total than ``head_start`` times the first epoch's training time::

    allowed(T) = max(fraction * T, min(early_fraction * T, head_start * t_first_epoch))

With the defaults (8%, 0.3 epochs) a 5-epoch run may spend up to 6% of its training time
instead of ``fraction``; by ``head_start / fraction`` epochs (10 at 3%) the flat share
takes over, so long runs stay at ``fraction``.

With ``fraction=None`` (or no budget) every log runs on its schedule.

Example:
    >>> b = OverheadBudget(0.1)
    >>> class Cb:
    ...     seconds, logs_done, last_cost = 0.0, 0, None
    ...     def wants_log(self, phase, step): return True
    >>> a, c = Cb(), Cb()
    >>> b.join(a); b.join(c)
    >>> b.train_seconds = 10.0          # 1 s of room at 10%
    >>> a.last_cost, c.last_cost = 0.6, 0.6
    >>> b.grant(a, 0, "epoch"), b.grant(c, 0, "epoch")   # only one 0.6 s log fits
    (True, False)
"""

from __future__ import annotations

import time
import weakref
from typing import Any

from keras_insight._config import logger


class OverheadBudget:
    """Share of a run's training time that its insight callbacks may spend (see module doc).

    Args:
        fraction: the share, e.g. ``0.05`` for 5%; ``None`` grants every log.
        early_fraction: the share while the run is young (see the module doc). Default 0.08.
        head_start: the most the early share may add up to, in first epochs. Default 0.3.
    """

    def __init__(
        self, fraction: float | None, *, early_fraction: float = 0.08, head_start: float = 0.3
    ) -> None:
        if fraction is not None and not (isinstance(fraction, (int, float)) and 0 < fraction):
            raise ValueError(
                f"overhead must be a positive fraction of training time such as 0.05, or None "
                f"for no limit; got {fraction!r}."
            )
        if not (isinstance(early_fraction, (int, float)) and 0 < early_fraction):
            raise ValueError(f"early_fraction must be a positive fraction, got {early_fraction!r}.")
        if not (isinstance(head_start, (int, float)) and 0 <= head_start):
            raise ValueError(f"head_start must be >= 0 epochs, got {head_start!r}.")
        self.fraction = None if fraction is None else float(fraction)
        self.early_fraction, self.head_start = float(early_fraction), float(head_start)
        self.first_epoch: float | None = None  # training seconds of the run's first epoch
        self.train_seconds = 0.0
        self._members: list[weakref.ref] = []
        self._epoch_start: float | None = None
        self._plans: dict[tuple, set[int]] = {}
        self.deferred = 0  # logs postponed for lack of budget in this run

    # ---------------------------------------------------------------- membership
    def join(self, cb: Any) -> None:
        self._members.append(weakref.ref(cb))

    def members(self) -> list[Any]:
        return [m for m in (r() for r in self._members) if m is not None]

    def spent(self) -> float:
        """Seconds the members have spent in this object's lifetime (their ``.seconds``)."""
        return sum(float(getattr(m, "seconds", 0.0)) for m in self.members())

    # ---------------------------------------------------------------- the clock
    def train_begin(self) -> None:
        """A new ``fit``: plans are per step, so a second fit starts with fresh ones."""
        self._plans.clear()
        self._epoch_start = None
        self.deferred = 0

    def train_end(self, cb: Any) -> None:
        """Called by every member at train end; the last one says, once, what was postponed."""
        members = self.members()
        if self.fraction is None or not members or cb is not members[-1] or not self.deferred:
            return
        logger.info(
            "insight: %d scheduled logs were postponed or left out to keep the callbacks "
            "within their budget (%.0f%% of training time, more early in a run for one-off "
            "costs): %.1f s of %.1f s; suite(..., overhead=None) logs every view on schedule.",
            self.deferred,
            100 * self.fraction,
            self.spent(),
            self.train_seconds,
        )

    def epoch_begin(self, epoch: int) -> None:
        if self._epoch_start is None:
            self._epoch_start = time.perf_counter()

    def epoch_end(self, epoch: int) -> None:
        """Called by every member; the first call of an epoch closes its training time."""
        if self._epoch_start is not None:
            seconds = time.perf_counter() - self._epoch_start
            self.train_seconds += seconds
            if self.first_epoch is None:
                self.first_epoch = seconds
            self._epoch_start = None

    # ---------------------------------------------------------------- decisions
    def allowed(self) -> float:
        """Seconds the members may have spent by now (see the module doc)."""
        if self.fraction is None:
            return float("inf")
        steady = self.fraction * self.train_seconds
        if self.first_epoch is None:
            return steady
        early = min(self.early_fraction * self.train_seconds, self.head_start * self.first_epoch)
        return max(steady, early)

    def grant(self, cb: Any, step: int, phase: str) -> bool:
        """Whether ``cb`` may log now (``phase`` "epoch" or "end"); plans once per step."""
        if self.fraction is None:
            return True
        key = (step, phase)
        if key not in self._plans:
            self._plans[key] = self._plan(phase, step)
        granted = id(cb) in self._plans[key]
        if not granted:
            self.deferred += 1
        return granted

    def _plan(self, phase: str, step: int) -> set[int]:
        members = self.members()
        order = {id(m): i for i, m in enumerate(members)}
        due = [m for m in members if m.wants_log(phase, step)]
        due.sort(key=lambda m: (m.logs_done, order[id(m)]))
        room = self.allowed() - self.spent()
        # a view that never logged is expected to cost what the costliest first log so far
        # did (tracing included; the mean let a 0.8 s t-SNE in on a 0.2 s guess)
        firsts = [m.first_cost for m in members if getattr(m, "first_cost", None) is not None]
        guess = max(firsts, default=0.0)
        plan: set[int] = set()
        unknown_granted = False
        waiting = None  # logs_done of the first view that did not fit: room is kept for it
        for m in due:
            if waiting is not None and m.logs_done > waiting:
                break  # views that logged more wait, so every view appears before any twice
            # the costlier of its last two logs: views that share the probe pass pay for it
            # on alternate epochs (the 2,048-image pass of a freq-2 confusion matrix)
            cost = m.last_cost
            if cost is not None:
                cost = max(cost, getattr(m, "prev_cost", None) or 0.0)
            if cost is None:
                if unknown_granted and not firsts:
                    continue  # nothing measured yet: one blind guess per epoch end
                if room <= 0 or guess > room:
                    waiting = m.logs_done
                    continue
                unknown_granted = True
                plan.add(id(m))
                room -= guess
                continue
            if cost <= room:
                plan.add(id(m))
                room -= cost
            elif waiting is None:
                waiting = m.logs_done
        return plan

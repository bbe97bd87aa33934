"""The overhead budget: a suite spends at most its share of training time (issue 13)."""

import time

import keras
import numpy as np
import pytest

from keras_insight.callbacks import InsightCallback, OverheadBudget, suite
from keras_insight.tensorboard.events import read_events

LOG_COST = 0.05  # seconds each fake view takes to log
EPOCH = 0.5  # seconds of "training" per epoch


class SlowView(InsightCallback):
    """A view whose log takes LOG_COST seconds and writes its step as a scalar."""

    requires_data = False

    def __init__(self, name, log_dir, **kw):
        super().__init__(log_dir=log_dir, **kw)
        self.name = name

    def log(self, step):
        time.sleep(LOG_COST)
        self.writer.scalar(f"{self.name}/step", float(step), step)


class Training(keras.callbacks.Callback):
    """Makes each epoch take EPOCH seconds of training time."""

    def on_epoch_begin(self, epoch, logs=None):
        time.sleep(EPOCH)


def _fit(views, epochs):
    m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    m.compile("sgd", "mse")
    x = np.zeros((4, 2), "float32")
    m.fit(x, x[:, :1], epochs=epochs, verbose=0, callbacks=[*views, Training()])


def _views(tmp_path, fraction, n=3):
    budget = OverheadBudget(fraction)
    views = [SlowView(f"v{i}", str(tmp_path)) for i in range(n)]
    for v in views:
        v.budget = budget
        budget.join(v)
    return budget, views


def test_without_a_budget_every_view_logs_every_epoch(tmp_path):
    _, views = _views(tmp_path, None)
    _fit(views, 3)
    ev = read_events(str(tmp_path / "insight"))
    for i in range(3):
        assert [s for s, _ in ev[f"v{i}/step"]] == [0, 1, 2]


def test_budget_bounds_the_overhead_and_shares_it_fairly(tmp_path):
    budget, views = _views(tmp_path, 0.1)  # 0.05 s of room per 0.5 s epoch: ~1 log per epoch
    start = time.perf_counter()
    _fit(views, 8)
    wall = time.perf_counter() - start
    spent = budget.spent()
    # by construction: at most the share, plus one log whose cost was not known yet
    assert spent <= 0.1 * budget.train_seconds + 1.5 * LOG_COST
    # training time holds every epoch's training and none of the views' own time
    assert 8 * EPOCH <= budget.train_seconds <= wall - spent
    logs = [v.logs_done for v in views]
    assert 4 <= sum(logs) <= 9 and budget.deferred > 0
    # least-logged first: every view logged, and no view got two logs ahead of another
    assert min(logs) >= 1 and max(logs) - min(logs) <= 1
    ev = read_events(str(tmp_path / "insight"))
    for i in range(3):
        steps = [s for s, _ in ev[f"v{i}/step"]]
        # a postponed log is written at the epoch it ran, with that epoch's step
        assert steps == sorted(set(steps)) and all(0 <= s < 8 for s in steps)
        assert [v for _, v in ev[f"v{i}/step"]] == [float(s) for s in steps]


def test_budget_plan_is_greedy_by_least_logged_then_order():
    class M:
        seconds = 0.0

        def __init__(self, cost, done):
            self.last_cost, self.logs_done = cost, done

        def wants_log(self, phase, step):
            return True

    b = OverheadBudget(0.1)
    a, c, d = M(0.4, 2), M(0.4, 0), M(None, 0)
    for m in (a, c, d):
        b.join(m)
    b.train_seconds = 5.0  # 0.5 s of room
    # c (never logged, known cost) first, then the one unknown d; a would not fit after c
    assert [b.grant(m, 3, "epoch") for m in (a, c, d)] == [False, True, True]
    assert b.deferred == 1


def test_suite_default_budget_and_bad_overhead(tmp_path):
    cbs = suite((np.zeros((8, 8, 8, 1), "float32"), np.arange(8) % 2), str(tmp_path))
    budgets = {id(cb.budget) for cb in cbs}
    assert len(budgets) == 1 and cbs[0].budget.fraction == 0.03
    assert all(cb.budget is None for cb in [SlowView("x", str(tmp_path))])
    with pytest.raises(ValueError, match="overhead must be a positive fraction"):
        suite((np.zeros((8, 8, 8, 1), "float32"), np.arange(8) % 2), str(tmp_path), overhead=-1)


def test_budget_says_once_what_it_postponed(tmp_path, caplog):
    budget, views = _views(tmp_path, 0.01)  # room for almost nothing
    with caplog.at_level("INFO", logger="keras_insight"):
        _fit(views, 3)
    lines = [r.getMessage() for r in caplog.records if "postponed" in r.getMessage()]
    assert len(lines) == 1 and f"{budget.deferred} scheduled logs" in lines[0]
    assert "overhead=None" in lines[0]


def test_head_start_formula():
    """allowed(T) = max(f T, min(f_early T, head_start t_1)) (module doc), checked on a
    clock driven by hand."""
    b = OverheadBudget(0.03, early_fraction=0.08, head_start=0.3)
    assert b.allowed() == 0.0
    b.train_seconds = 5.0  # before the first epoch is recorded: the flat share
    assert b.allowed() == pytest.approx(0.15)
    b.first_epoch = 5.0
    for t, want in [(5.0, 0.4), (10.0, 0.8), (15.0, 1.2), (25.0, 1.5), (50.0, 1.5), (100.0, 3.0)]:
        b.train_seconds = t
        assert b.allowed() == pytest.approx(want), t
    with pytest.raises(ValueError, match="head_start"):
        OverheadBudget(0.03, head_start=-1)
    with pytest.raises(ValueError, match="early_fraction"):
        OverheadBudget(0.03, early_fraction=0)


def test_head_start_lets_a_short_run_show_more_views_within_its_bound(tmp_path):
    """A 4-epoch run at a 2% share: without a head start no 0.05 s log fits in 0.5 s
    epochs (0.01 s of room each); with one, views log early, and the spend stays within
    the bound plus one log of unknown cost."""
    flat, flat_views = _views(tmp_path / "flat", 0.02)
    flat.head_start = 0.0
    _fit(flat_views, 4)
    early, views = _views(tmp_path / "early", 0.02)  # defaults: 8%, 0.3 epochs
    _fit(views, 4)
    assert sum(v.logs_done for v in flat_views) <= 1
    assert sum(v.logs_done for v in views) >= 3 and min(v.logs_done for v in views) >= 1
    bound = max(0.02 * early.train_seconds, min(0.08 * early.train_seconds, 0.3 * early.first_epoch))
    assert early.spent() <= bound + 1.5 * LOG_COST
    assert EPOCH <= early.first_epoch < 2 * EPOCH


class _Fake:
    """A member with hand-set costs (the attributes the budget reads)."""

    def __init__(self, last=None, prev=None, first=None, logs=0):
        self.seconds, self.logs_done = 0.0, logs
        self.last_cost, self.prev_cost, self.first_cost = last, prev, first

    def wants_log(self, phase, step):
        return True


def test_estimates_are_the_costlier_of_two_logs_and_the_costliest_first_log():
    b = OverheadBudget(0.1, head_start=0.0)
    b.train_seconds = 10.0  # 1.0 s of room
    # alternates 0.2 s / 0.9 s (it carries a shared pass every other epoch): last was cheap
    alternating = _Fake(last=0.2, prev=0.9, first=0.9, logs=2)
    b.join(alternating)
    assert b.grant(alternating, 0, "epoch")  # 0.9 <= 1.0
    b.train_seconds = 8.0  # 0.8 s of room: the 0.2 s last log alone would have fitted
    assert not b.grant(alternating, 1, "epoch")
    # a view that never logged is guessed at the costliest first log so far (0.9 s)
    b2 = OverheadBudget(0.1, head_start=0.0)
    cheap, unknown = _Fake(last=0.1, first=0.9, logs=1), _Fake()
    b2.join(cheap)
    b2.join(unknown)
    b2.train_seconds = 8.5  # 0.85 s: the guess 0.9 does not fit, and the room is kept for
    # the view that never logged: the cheap one, which logged before, waits too
    assert not b2.grant(unknown, 0, "epoch") and not b2.grant(cheap, 0, "epoch")
    b2.train_seconds = 10.1  # 1.01 s: 0.9 + 0.1 fits
    assert b2.grant(cheap, 1, "epoch") and b2.grant(unknown, 1, "epoch")


def test_room_is_kept_for_the_least_logged_view():
    """Every view appears before any appears twice: a view that logged more does not take
    the room a less-logged one is waiting for; views equally behind still fit in."""
    b = OverheadBudget(0.1, head_start=0.0)
    big = _Fake(last=0.8, first=0.8, logs=1)  # waiting for 0.8 s
    small_same = _Fake(last=0.1, first=0.1, logs=1)
    small_ahead = _Fake(last=0.1, first=0.1, logs=3)
    for m in (big, small_same, small_ahead):
        b.join(m)
    b.train_seconds = 5.0  # 0.5 s of room
    plan = {n: b.grant(m, 0, "epoch") for n, m in
            [("big", big), ("same", small_same), ("ahead", small_ahead)]}  # fmt: skip
    assert plan == {"big": False, "same": True, "ahead": False}

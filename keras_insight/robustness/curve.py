"""Robust-accuracy curves: accuracy under attack over an eps grid, AUC, minimal perturbation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
from scipy.integrate import trapezoid  # np.trapezoid needs numpy 2 (TF 2.16/2.17: < 2)

from keras_insight.robustness.attacks import (
    AttackConfig,
    attack_losses,
    attack_success,
    check_eps,
    check_norm,
    prepare_attack,
    run_fgsm,
    run_pgd,
)

ATTACKS = ("fgsm", "pgd")
DEFAULT_LINF = (0.0, 1 / 255, 2 / 255, 4 / 255, 8 / 255)
DEFAULT_L2 = (0.0, 0.25, 0.5, 1.0)


@dataclass
class RobustnessReport:
    """Result of :func:`robustness_curve` (all accuracies over all samples, true labels).

    Attributes:
        epsilons: sorted eps grid (input units), starting with the clean point if given.
        accuracy: ``{attack: (len(eps),)}`` cumulative robust accuracy per attack, plus
            ``"worst"`` = broken by any attack; non-increasing in eps.
        clean_accuracy: accuracy on unperturbed inputs.
        auc: area under the worst-case curve over [0, max eps], normalised by max eps (1 =
            fully robust, equals clean accuracy for a flat curve).
        breaking_eps: per sample, the smallest eps in the grid that breaks it (0 if
            misclassified clean, ``inf`` if never broken).
        min_perturbation: per sample, the norm of the first successful adversarial delta
            (0 if misclassified clean, ``inf`` if never broken).
        mean_min_perturbation: mean of ``min_perturbation`` over samples that were correct
            clean and broken by an attack (None if none were).
        never_broken: number of samples correct at every eps.
        diagnostics: ``zero_grad_fraction`` (samples whose attack-loss input gradient was
            exactly zero at the first step, per loss), ``max_excess`` (max(||delta|| - eps)),
            ``nan_count``.
        examples: ``(x, x_adv, eps)`` of the strongest attack at the largest eps.
    """

    epsilons: np.ndarray
    accuracy: dict[str, np.ndarray]
    clean_accuracy: float
    auc: float
    breaking_eps: np.ndarray
    min_perturbation: np.ndarray
    mean_min_perturbation: float | None
    never_broken: int
    norm: str
    diagnostics: dict[str, float] = field(default_factory=dict)
    examples: tuple | None = None

    def scalars(self, prefix: str = "robustness") -> dict[str, float]:
        """Flat ``{tag: value}`` for TensorBoard: ``<prefix>/<norm>_<attack>/acc_eps_<e>``."""
        out: dict[str, float] = {}
        for attack, acc in self.accuracy.items():
            for e, a in zip(self.epsilons, acc):
                out[f"{prefix}/{self.norm}_{attack}/acc_eps_{_fmt(e)}"] = float(a)
        out[f"{prefix}/clean_accuracy"] = self.clean_accuracy
        out[f"{prefix}/auc"] = self.auc
        if self.mean_min_perturbation is not None:
            out[f"{prefix}/mean_min_perturbation"] = self.mean_min_perturbation
        out[f"{prefix}/never_broken"] = float(self.never_broken)
        for k, v in self.diagnostics.items():
            out[f"{prefix}/diagnostics/{k}"] = float(v)
        return out


def _fmt(e: float) -> str:
    return f"{float(e):.4g}"


def _norms(d: np.ndarray, norm: str) -> np.ndarray:
    flat = d.reshape(len(d), -1)
    return (
        np.abs(flat).max(1) if norm == "linf" else np.linalg.norm(flat.astype(np.float64), axis=1)
    )


def robustness_curve(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    epsilons: Any = None,
    attacks: Any = ATTACKS,
    norm: str = "linf",
    steps: int = 10,
    restarts: int = 1,
    loss: str = "cross_entropy",
    input_range: tuple[float, float] | None = None,
    seed: int = 0,
    batch_size: int | None = None,
    output: int | str | None = None,
    jit_compile: bool | str = "auto",
) -> RobustnessReport:
    """Robust accuracy vs eps for FGSM / PGD, cumulative so it never rises with eps.

    acc(eps) = (1/N) * #{i : f(x_i) = y_i and no attack at any eps' <= eps breaks x_i}
    (Madry et al. 2018; minimal-perturbation bookkeeping as in foolbox). eps = 0 is the
    clean accuracy without running an attack. The default grid is Linf {0, 1, 2, 4, 8}/255
    of the input range (L2: {0, .25, .5, 1} of it). FGSM is Linf only.

    Example:
        >>> import numpy as np
        >>> from keras_insight.testing import small_cnn
        >>> x = np.random.default_rng(0).uniform(size=(8, 16, 16, 3)).astype("float32")
        >>> r = robustness_curve(small_cnn(), x, np.arange(8) % 4, steps=2, input_range=(0, 1))
        >>> bool(np.all(np.diff(r.accuracy["worst"]) <= 0))
        True
    """
    x, labels, (lo, hi), binary, clean_z = prepare_attack(
        model, x, y, input_range, output, "robustness_curve"
    )
    norm = check_norm(norm)
    n = x.shape[0]
    if isinstance(attacks, str):
        attacks = (attacks,)
    attacks = tuple(attacks)
    for a in attacks:
        if a not in ATTACKS:
            raise ValueError(f"Unknown attack {a!r}; choose from {ATTACKS}.")
    if norm == "l2" and "fgsm" in attacks:
        attacks = tuple(a for a in attacks if a != "fgsm")
        if not attacks:
            raise ValueError("FGSM is an Linf attack; use attacks=('pgd',) with norm='l2'.")
    losses = attack_losses(loss)
    width = hi - lo
    if epsilons is None:
        epsilons = [e * width for e in (DEFAULT_LINF if norm == "linf" else DEFAULT_L2)]
    eps_arr = np.asarray(
        [check_eps(e, norm, lo, hi, x.shape[1:]) for e in np.ravel(epsilons)], np.float64
    )
    if eps_arr.size == 0:
        raise ValueError("epsilons is empty; give at least one eps, e.g. [0, 8/255].")
    if np.any(np.diff(eps_arr) < 0):
        eps_arr = np.sort(eps_arr)
    eps_arr = np.unique(eps_arr)

    correct = ~attack_success(clean_z, labels, False, binary)
    pos = eps_arr[eps_arr > 0]

    # broken[attack][j, i]: sample i broken by attack at eps pos[j]; all eps in one batch
    broken: dict[str, np.ndarray] = {}
    delta_norm: dict[str, np.ndarray] = {}
    diag = {"max_excess": -np.inf, "nan_count": 0}
    zero_fracs: dict[str, float] = {}
    examples = None
    if pos.size:
        xt = np.tile(x, (pos.size,) + (1,) * (x.ndim - 1))
        lt = np.tile(labels, pos.size)
        et = np.repeat(pos, n).astype(np.float32)
        cfg = AttackConfig(
            lo=lo,
            hi=hi,
            norm=norm,
            steps=int(steps),
            restarts=int(restarts),
            losses=losses,
            seed=seed,
            batch_size=batch_size,
            binary=binary,
            output=output,
            jit_compile=jit_compile,
        )
        for attack in attacks:
            if attack == "fgsm":
                res = run_fgsm(model, xt, lt, et, cfg)
            else:
                # every eps in one batched run: x tiled over eps, the same starts for each
                res = run_pgd(model, xt, lt, et, cfg, tile=pos.size)
                for ls, z in res.zero_by_loss.items():
                    zero_fracs[ls] = max(zero_fracs.get(ls, 0.0), float(z.mean()))
            nan = int(np.isnan(res.x_adv).sum())
            diag["nan_count"] += nan
            d = _norms(res.x_adv - xt, norm)
            diag["max_excess"] = max(diag["max_excess"], float(np.max(d - et)))
            broken[attack] = (
                res.success | np.isnan(res.x_adv.reshape(len(xt), -1)).any(1)
            ).reshape(pos.size, n)
            delta_norm[attack] = d.reshape(pos.size, n)
            examples = (x, res.x_adv[-n:], float(pos[-1]))

    accuracy: dict[str, np.ndarray] = {}
    any_broken = np.zeros((pos.size, n), bool)
    for attack in attacks:
        b = np.logical_or.accumulate(broken[attack], axis=0) if pos.size else np.zeros((0, n), bool)
        any_broken |= b
        accuracy[attack] = _curve(eps_arr, correct, b)
    accuracy["worst"] = _curve(eps_arr, correct, any_broken)

    breaking = np.where(correct, np.inf, 0.0)
    min_pert = np.where(correct, np.inf, 0.0)
    for j in range(pos.size):
        newly = correct & np.isinf(breaking) & any_broken[j]
        breaking[newly] = pos[j]
        norms_j = np.full(n, np.inf)
        for attack in attacks:
            hit = broken[attack][j]
            norms_j = np.where(hit, np.minimum(norms_j, delta_norm[attack][j]), norms_j)
        min_pert[newly] = norms_j[newly]
    was_broken = correct & np.isfinite(breaking)
    mean_min = float(min_pert[was_broken].mean()) if was_broken.any() else None
    never = int((correct & np.isinf(breaking)).sum())

    worst = accuracy["worst"]
    if eps_arr[-1] > 0 and eps_arr.size > 1:
        auc = float(trapezoid(worst, eps_arr) / (eps_arr[-1] - eps_arr[0]))
    else:
        auc = float(worst[-1])
    diagnostics = {f"zero_grad_fraction_{k}": v for k, v in zero_fracs.items()}
    if pos.size:
        diagnostics["max_excess"] = float(diag["max_excess"])
        diagnostics["nan_count"] = float(diag["nan_count"])
    return RobustnessReport(
        epsilons=eps_arr,
        accuracy=accuracy,
        clean_accuracy=float(correct.mean()),
        auc=auc,
        breaking_eps=breaking.astype(np.float32),
        min_perturbation=min_pert.astype(np.float32),
        mean_min_perturbation=mean_min,
        never_broken=never,
        norm=norm,
        diagnostics=diagnostics,
        examples=examples,
    )


def _curve(eps_arr: np.ndarray, correct: np.ndarray, broken_cum: np.ndarray) -> np.ndarray:
    acc = []
    j = 0
    for e in eps_arr:
        if e == 0:
            acc.append(correct.mean())
        else:
            acc.append((correct & ~broken_cum[j]).mean())
            j += 1
    return np.asarray(acc, np.float32)

"""Loss and regularisers (docs/model.md, docs/training.md).

All terms are differentiable PyTorch; distances enter as delays in ms, so the
costs do not depend on the velocity chosen to express positions in µm.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "SNNLoss",
    "communicability_cost",
    "connection_cost",
    "rate_penalty",
    "spike_count_penalty",
]


def spike_count_penalty(spikes: Tensor, nu: float = 1.0) -> Tensor:
    """Pull each neuron's batch-mean spike count towards ``nu``.

    ``0.5 * sum_i (mean_b count_bi - nu)^2``: its gradient per spike is
    ``(mean count - nu)/batch``, the paper's (mlGeNN's) spike regulariser.

    Parameters
    ----------
    spikes : Tensor of shape (batch, time, n)
        Hidden spikes.
    nu : float
        Target spikes per neuron per trial.
    """
    mean_count = spikes.sum(1).mean(0)
    return 0.5 * ((mean_count - nu) ** 2).sum()


def rate_penalty(rates: Tensor, low: float = 0.0, high: float = 50.0) -> Tensor:
    """Keep each neuron's firing rate inside a range, in spikes per second.

    ``0.5 * sum_i (relu(low - r_i)**2 + relu(r_i - high)**2)``, zero inside
    ``[low, high]``. With ``low == high == nu / duration`` it is the paper's spike-count
    regulariser (:func:`spike_count_penalty`) up to the factor ``duration**2``
    (docs/training.md).

    Parameters
    ----------
    rates : Tensor of shape (n,)
        Batch-mean firing rate of each neuron, spikes/s (Hz).
    low, high : float
        The rate range, Hz (``0 <= low <= high``).
    """
    return 0.5 * ((low - rates).clamp_min(0) ** 2 + (rates - high).clamp_min(0) ** 2).sum()


def connection_cost(weight: Tensor, delay: Tensor, exponent: int = 1) -> Tensor:
    """Distance-dependent wiring cost ``sum_ij |w_ij| * d_ij**exponent``.

    Parameters
    ----------
    weight : Tensor of shape (n_post, n_pre)
        Weights.
    delay : Tensor of shape (n_post, n_pre)
        Delays in ms (distance / velocity). Detach it to keep the cost out of the
        positions.
    exponent : {1, 2}
        Power of the distance.
    """
    if exponent not in (1, 2):
        raise ValueError(f"exponent must be 1 or 2, got {exponent}")
    return (weight.abs() * delay**exponent).sum()


def communicability_cost(weight: Tensor, delay: Tensor) -> Tensor:
    """seRNN-style communicability-weighted wiring cost (Achterberg et al. 2023).

    ``sum_ij |w_ij| d_ij C_ij`` with ``C = expm(S^-1/2 |W| S^-1/2)``, ``S`` the diagonal
    of node strengths (row sums of ``|W|``).

    Parameters
    ----------
    weight : Tensor of shape (n, n)
        Recurrent weights.
    delay : Tensor of shape (n, n)
        Recurrent delays in ms.
    """
    a = weight.abs()
    strength = a.sum(1).clamp_min(torch.finfo(a.dtype).tiny)
    s = strength.rsqrt()
    comm = torch.linalg.matrix_exp(s[:, None] * a * s[None, :])
    return (a * delay * comm).sum()


@dataclass
class SNNLoss:
    """Cross-entropy plus the regularisers of the paper, as one callable.

    Parameters
    ----------
    spike_reg : float
        Weight of :func:`spike_count_penalty` (0 disables).
    nu : float
        Target spikes per hidden neuron per trial.
    l1 : float
        Weight of the L1 norm of the recurrent weights.
    connection_cost : float
        Weight of :func:`connection_cost` on the recurrent projection.
    cost_exponent : {1, 2}
        Distance exponent of the connection cost.
    cost_into_positions : bool
        Whether the connection cost's gradient reaches the positions (pulling
        connected neurons together) or only the weights.
    communicability_cost : float
        Weight of :func:`communicability_cost` (seRNN).
    rate_reg : float
        Weight of :func:`rate_penalty`, per (spikes/s)² (0 disables).
    rate_range : tuple of float
        ``(low, high)`` firing-rate range of the hidden neurons, spikes/s.

    Examples
    --------
    >>> loss_fn = SNNLoss(spike_reg=1e-3)
    >>> total, parts = loss_fn(output, labels, model)  # doctest: +SKIP
    """

    spike_reg: float = 0.0
    nu: float = 1.0
    l1: float = 0.0
    connection_cost: float = 0.0
    cost_exponent: int = 1
    cost_into_positions: bool = True
    communicability_cost: float = 0.0
    rate_reg: float = 0.0
    rate_range: tuple[float, float] = (0.0, 50.0)

    def __call__(self, output, labels: Tensor, model) -> tuple[Tensor, dict[str, float]]:
        """Total loss and its parts.

        Parameters
        ----------
        output : SNNOutput
            What the model returned.
        labels : Tensor of int64, shape (batch,)
            Class indices.
        model : SpatialSNN
            The model (for weights and delays).

        Returns
        -------
        total : Tensor
            Scalar loss to back-propagate.
        parts : dict of str to float
            Each term's value (detached), including ``"cross_entropy"``.
        """
        ce = F.cross_entropy(output.logits, labels)
        reg, parts = self.penalties(model, output.hidden_spikes.sum(1).mean(0), output.duration)
        return ce + reg, {"cross_entropy": float(ce.detach()), **parts}

    def penalties(
        self, model, mean_counts: Tensor | None = None, duration: float | None = None
    ) -> tuple[Tensor, dict[str, float]]:
        """The regularisers alone.

        Parameters
        ----------
        model : SpatialSNN
            The model (for weights and delays).
        mean_counts : Tensor of shape (n_hidden,), optional
            Batch-mean spike count per hidden neuron (the data-parallel trainer passes
            the mean over the global batch); without it the spike terms are skipped.
        duration : float, optional
            Duration of a trial, ms (for the rate term; without it that term is
            skipped).

        Returns
        -------
        total : Tensor
            Scalar sum of the weighted terms.
        parts : dict of str to float
            Each unweighted term's value.
        """
        w = model.w_rec
        total = w.new_zeros(())
        parts: dict[str, float] = {}

        def add(name: str, lam: float, term):
            nonlocal total
            if lam:
                value = term()
                parts[name] = float(value.detach())
                total = total + lam * value

        if mean_counts is not None:
            add("spike_count", self.spike_reg, lambda: 0.5 * ((mean_counts - self.nu) ** 2).sum())
            if duration is not None:
                rates = mean_counts * (1000.0 / duration)  # spikes/s
                add("rate", self.rate_reg, lambda: rate_penalty(rates, *self.rate_range))
        add("l1", self.l1, lambda: w.abs().sum())
        if self.connection_cost or self.communicability_cost:
            delay = model.delays()
            if not self.cost_into_positions:
                delay = delay.detach()
            add(
                "connection_cost",
                self.connection_cost,
                lambda: connection_cost(w, delay, self.cost_exponent),
            )
            add(
                "communicability_cost",
                self.communicability_cost,
                lambda: communicability_cost(w, delay),
            )
        return total, parts

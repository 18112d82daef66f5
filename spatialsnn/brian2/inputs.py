"""Input spike counts in Brian2: the input group and its *count copies*.

A ``SpikeGeneratorGroup`` refuses two spikes of one neuron in one time step, but a bin
of binned data may hold several spikes of one channel. Every input channel is therefore
represented by ``max_count`` neurons, its count copies ``m = 0 .. max_count-1``: copy
``m`` spikes in a step iff the channel's count in that step is larger than ``m``. Each
copy has the channel's synapses (same weight, same position, hence the same delay), so
a count ``c`` adds exactly ``c * w`` to ``I``, also over a delayed input synapse.

Input neuron ``k = (b*max_count + m)*n_in + c`` is count copy ``m`` of channel ``c`` in
network copy ``b``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["input_count_table", "input_group", "set_input_spikes"]


def input_group(
    params: Mapping[str, Any],
    space: Sequence[str],
    *,
    mode: str,
    max_count: int,
    n_copies: int,
    n_table_steps: int | None,
    dt: float,
):
    """The ``input`` group, with count copies and (if the model has them) positions.

    Parameters
    ----------
    params : mapping
        :func:`~spatialsnn.brian2.network_params` of the model.
    space : sequence of str
        Names of the position variables.
    mode : {"spikegen", "timedarray"}
        A ``SpikeGeneratorGroup`` (filled by :func:`set_input_spikes`), or a
        ``NeuronGroup`` with ``threshold='input_counts(t, channel) > rank'`` driven by
        the ``TimedArray`` ``input_counts`` (values from :func:`input_count_table`).
    max_count : int
        Count copies per channel.
    n_copies : int
        Network copies.
    n_table_steps : int or None
        Rows of the ``input_counts`` table (timedarray mode).
    dt : float
        Time step, ms (the table's ``dt``).

    Returns
    -------
    group : brian2.SpikeGeneratorGroup or brian2.NeuronGroup
    input_counts : brian2.TimedArray or None
    """
    import brian2 as b2
    from brian2 import ms, umetre

    n_in = int(params["n_in"])
    n = n_copies * max_count * n_in
    positions = params.get("position_input")
    input_counts = None
    if mode == "spikegen":
        group = b2.SpikeGeneratorGroup(n, np.zeros(0, dtype=int), np.zeros(0) * ms, name="input")
        if positions is not None:  # a SpikeGeneratorGroup has no equations: add the variables
            for c in space:
                group.variables.add_array(c, size=n, dimensions=umetre.dim, constant=True)
    else:
        input_counts = b2.TimedArray(
            np.zeros((int(n_table_steps), n_copies * n_in)), dt=dt * ms, name="input_counts"
        )
        eqs = "channel : integer (constant)\nrank : integer (constant)\n"
        if positions is not None:
            eqs += "".join(f"{c} : metre (constant)\n" for c in space)
        group = b2.NeuronGroup(
            n,
            eqs,
            threshold="input_counts(t, channel) > rank",
            reset="",
            namespace={"input_counts": input_counts},
            name="input",
        )
        k = np.arange(n)
        group.channel = (k // (max_count * n_in)) * n_in + k % n_in  # column of input_counts
        group.rank = (k // n_in) % max_count
    if positions is not None:
        positions = np.asarray(positions, dtype=float)
        for k, c in enumerate(space):
            setattr(group, c, np.tile(positions[:, k], n_copies * max_count) * umetre)
    return group, input_counts


def set_input_spikes(net, counts) -> None:
    """Load spike counts into the ``SpikeGeneratorGroup`` of a network.

    A count ``c`` of channel ``ch`` in step ``t`` becomes one spike, at ``t * dt``, of
    each of the count copies ``0 .. c-1`` of ``ch``.

    Parameters
    ----------
    net : Brian2Network
        A network from :func:`~spatialsnn.brian2.build_network` with
        ``input_mode="spikegen"``.
    counts : array of int, shape (n_steps, n_in) or (n_samples, n_steps, n_in)
        Spike counts per step; ``n_samples <= n_copies`` (copies beyond get no input).
    """
    from brian2 import ms

    counts = np.asarray(counts)
    if counts.ndim == 2:
        counts = counts[None]
    n_in, max_count = int(net.params["n_in"]), net.max_count
    if counts.ndim != 3 or counts.shape[2] != n_in or counts.shape[0] > net.n_copies:
        raise ValueError(
            f"counts must be [n_samples <= {net.n_copies}, n_steps, {n_in}], got {counts.shape}"
        )
    if counts.size and (counts.min() < 0 or counts.max() > max_count):
        raise ValueError(f"counts must lie in [0, max_count={max_count}]")
    b, t, c = np.nonzero(counts)
    n = counts[b, t, c].astype(np.int64)
    event = np.repeat(np.arange(n.size), n)  # one entry per spike
    rank = np.arange(event.size) - np.repeat(np.cumsum(n) - n, n)
    index = (b[event] * max_count + rank) * n_in + c[event]
    net.input.set_spikes(index, t[event] * net.dt * ms)


def input_count_table(
    counts: np.ndarray, n_copies: int, samples_per_run: int = 1, period: int | None = None
) -> np.ndarray:
    """Spike counts as the values of the ``input_counts`` TimedArray.

    Parameters
    ----------
    counts : array, shape (n_samples, n_steps, n_in)
        Spike counts, ``n_samples <= n_copies * samples_per_run``. Sample ``j`` goes to
        network copy ``j % n_copies``, slot ``j // n_copies``.
    n_copies : int
        Copies of the network.
    samples_per_run : int
        Samples one after the other per copy (see
        :func:`~spatialsnn.brian2.build_network`).
    period : int, optional
        Steps per sample including the gap (default: ``n_steps``).

    Returns
    -------
    numpy.ndarray of float64, shape (samples_per_run * period, n_copies * n_in)
        Row ``s*period + t``, column ``b*n_in + c``: channel ``c`` at step ``t`` of the
        sample in slot ``s`` of copy ``b`` (zeros in gaps and unused slots).
    """
    counts = np.asarray(counts)
    n, n_steps, n_in = counts.shape
    period = n_steps if period is None else int(period)
    if n > n_copies * samples_per_run:
        raise ValueError(f"{n} samples do not fit {n_copies} copies x {samples_per_run} slots")
    table = np.zeros((samples_per_run, period, n_copies, n_in))
    j = np.arange(n)
    table[j // n_copies, :n_steps, j % n_copies] = counts
    return table.reshape(samples_per_run * period, n_copies * n_in)

// CPU kernels of the recurrent LIF layer (lif_recurrent): the forward pass, and the ring
// sizing shared with the backward pass (cpu_lif_backward.h).
//
// Semantics are those of spatialsnn/ops/_reference.py (docs/kernels.md has the design).
//
// Rings. Both passes keep a ring buffer over time whose length is a power of two, so that a
// slot is `(t + k) & mask` (no branch), and only as long as the delays in the table need:
// the largest delay of the table, not the clamp `kmax`, sets it (a network whose delays are
// all below 4 steps uses an 8-slot ring even when `kmax` is 1000).
//
// Forward: per batch element, a ring of future arrivals; each spike scatters its weights into
// slot t + k_ij (and t + k_ij + 1 for interpolation).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu_common.h"
#include "delay_kernels.cuh"

namespace ssnn {
namespace cpu {

// Smallest power of two >= n (n >= 1).
inline int64_t pow2_at_least(int64_t n) {
  int64_t s = 1;
  while (s < n) s <<= 1;
  return s;
}

// table_reach from the delays themselves (before a table is built): floor(d) + 1 of the
// largest delay clamped as PrepareTable clamps it (NaN to 0), since k_a + interp and k_0 + 1
// are both at most floor(d) + 1, and k_0 + 1 is that.
template <typename scalar_t>
int64_t delay_reach(const scalar_t* delay, int64_t entries, int32_t kmax) {
  scalar_t top = scalar_t(-1);
  for (int64_t e = 0; e < entries; ++e) {
    scalar_t d = delay[e];
    d = d > scalar_t(0) ? d : scalar_t(0);
    d = d < scalar_t(kmax) ? d : scalar_t(kmax);
    top = std::max(top, d);
  }
  return top < scalar_t(0) ? 0 : static_cast<int64_t>(std::floor(top)) + 1;
}

// Largest offset (steps) that the delay table makes either pass read or write beyond the
// current step: max(k_a + interp, k_0 + 1) over all synapses (0 for an empty table).
template <typename scalar_t>
int64_t table_reach(const DelayTable<scalar_t>& tab, int64_t entries, bool interp) {
  int32_t reach = 0;
  for (int64_t e = 0; e < entries; ++e) {
    reach = std::max(reach, tab.k_a[e] + (interp ? 1 : 0));
    reach = std::max(reach, tab.k_0[e] + 1);
  }
  return reach;
}

// ------------------------------------------------------------------------------ forward

// Two values of one synapse, (c_a, c_b), moved as one 8- or 16-byte vector.
typedef float pair2f __attribute__((vector_size(8)));
typedef double pair2d __attribute__((vector_size(16)));
template <typename scalar_t>
struct Pair;
template <>
struct Pair<float> {
  using type = pair2f;
};
template <>
struct Pair<double> {
  using type = pair2d;
};

template <typename scalar_t>
struct LifForwardCpu {
  const scalar_t* drive;  // [B][T][N]
  scalar_t* z;            // [B][T][N] out
  scalar_t* u;            // [B][T][N] out
  DelayTable<scalar_t> tab;  // pre-major: entry j * n + i
  const scalar_t* pairs;  // interpolate: [N_pre][N_post][2] = (c_a, c_b), else null
  const scalar_t* rows;   // short delays: [N_pre][depth][N_post][cells] weights by slot, or null
  int64_t batch, steps, n, slots, depth, cells;
  scalar_t alpha, beta, gamma, threshold;
  int32_t hold;  // max(R - 1, 0): refractory steps that follow a spike (0: none)
};

// Steps 1, 2 and 4 for one batch element at one step: state update, threshold, reset (applied
// before V is next needed). Writes u and z; lists the spiking neurons; returns their number.
template <typename scalar_t, bool kRefractory>
inline int64_t neuron_update(const LifForwardCpu<scalar_t>& a, int64_t row, scalar_t* v,
                             const scalar_t* cur, int32_t* left, int64_t* spikes) {
  int64_t n_spikes = 0;
  for (int64_t i = 0; i < a.n; ++i) {
    scalar_t uu;
    bool spike;
    if constexpr (kRefractory) {
      const int32_t l = left[i];
      const bool ref = l > 0;  // refractory: membrane held, threshold off
      uu = ref ? v[i] : a.alpha * v[i] + a.gamma * cur[i];
      spike = !ref && uu >= a.threshold;
      left[i] = spike ? a.hold : (ref ? l - 1 : 0);
    } else {
      uu = a.alpha * v[i] + a.gamma * cur[i];  // 1. state update
      spike = uu >= a.threshold;               // 2. threshold
    }
    a.u[row + i] = uu;
    a.z[row + i] = spike ? scalar_t(1) : scalar_t(0);
    v[i] = spike ? scalar_t(0) : uu;  // 4. reset
    if (spike) spikes[n_spikes++] = i;
  }
  return n_spikes;
}

// Step 3 for one batch element: the spikes of step t go into the ring of future arrivals,
// then I = beta*I + drive + (the arrivals of step t). Interpolation keeps (c_a, c_b) pairs
// in one ring, [slots][n][2]: c_a arrives in the pair's slot, c_b one slot later, so a spike
// costs one address and one 2-vector add per synapse.
template <typename scalar_t>
inline void arrivals(const LifForwardCpu<scalar_t>& a, int64_t row, int64_t t, scalar_t* ring,
                     scalar_t* cur, const int64_t* spikes, int64_t n_spikes) {
  const int64_t n = a.n, mask = a.slots - 1, now = t & mask;
  const scalar_t* dr = a.drive + row;
  if (a.rows != nullptr) {  // short delays: `depth` dense row additions per spike
    const int64_t width = n * a.cells;
    for (int64_t q = 0; q < n_spikes; ++q) {
      const scalar_t* src = a.rows + spikes[q] * a.depth * width;
      for (int64_t k = 0; k < a.depth; ++k) {
        scalar_t* __restrict dst = ring + ((now + k) & mask) * width;
        const scalar_t* __restrict add = src + k * width;
        SSNN_PRAGMA(omp simd)
        for (int64_t e = 0; e < width; ++e) dst[e] += add[e];
      }
    }
  } else if (a.pairs != nullptr) {
    using P = typename Pair<scalar_t>::type;
    P* ring2 = reinterpret_cast<P*>(ring);
    for (int64_t q = 0; q < n_spikes; ++q) {
      const int32_t* ka = a.tab.k_a + spikes[q] * n;
      const P* c = reinterpret_cast<const P*>(a.pairs) + spikes[q] * n;
      for (int64_t i = 0; i < n; ++i) ring2[((now + ka[i]) & mask) * n + i] += c[i];
    }
  } else {
    for (int64_t q = 0; q < n_spikes; ++q) {
      const int32_t* ka = a.tab.k_a + spikes[q] * n;
      const scalar_t* ca = a.tab.c_a + spikes[q] * n;
      for (int64_t i = 0; i < n; ++i) ring[((now + ka[i]) & mask) * n + i] += ca[i];
    }
  }
  if (a.cells == 2) {
    scalar_t* here = ring + now * n * 2;               // c_a parts due now
    scalar_t* late = ring + ((now - 1) & mask) * n * 2;  // c_b parts of the slot before
    for (int64_t i = 0; i < n; ++i) {
      const scalar_t ii = a.beta * cur[i] + dr[i];
      cur[i] = ii + (here[2 * i] + late[2 * i + 1]);
      here[2 * i] = scalar_t(0);
      late[2 * i + 1] = scalar_t(0);
    }
    return;
  }
  scalar_t* here = ring + now * n;
  for (int64_t i = 0; i < n; ++i) {
    const scalar_t ii = a.beta * cur[i] + dr[i];
    cur[i] = ii + here[i];
    here[i] = scalar_t(0);
  }
}

// `reach` = table_reach(...): writes go to slots t .. t + reach, reads to t - 1 and t.
template <typename scalar_t>
void lif_forward(const scalar_t* drive, scalar_t* z, scalar_t* u, const DelayTable<scalar_t>& tab,
                 int64_t batch, int64_t steps, int64_t n, int64_t reach, scalar_t alpha,
                 scalar_t beta, scalar_t gamma, scalar_t threshold, int32_t hold, bool interp) {
  const int64_t cells = interp ? 2 : 1;
  std::vector<scalar_t> pairs(interp ? 2 * n * n : 0);
  for (int64_t e = 0; interp && e < n * n; ++e) {
    pairs[2 * e] = tab.c_a[e];
    pairs[2 * e + 1] = tab.c_b[e];
  }
  // Short delays: each spike adds `depth` whole rows of the ring (zeros where a synapse has
  // another delay: the same sums, in the same order, without one address per synapse).
  int64_t depth = 0;  // slots t .. t + max(k_a) receive
  for (int64_t e = 0; e < n * n; ++e) depth = std::max<int64_t>(depth, tab.k_a[e] + 1);
  const bool dense = depth <= 8 && n * n * depth * cells * int64_t(sizeof(scalar_t)) <= (4 << 20);
  std::vector<scalar_t> rows(dense ? n * depth * n * cells : 0, scalar_t(0));
  for (int64_t e = 0; dense && e < n * n; ++e) {
    const int64_t j = e / n, i = e - j * n;
    scalar_t* cell = rows.data() + ((j * depth + tab.k_a[e]) * n + i) * cells;
    cell[0] = tab.c_a[e];
    if (interp) cell[1] = tab.c_b[e];
  }
  const LifForwardCpu<scalar_t> a{drive, z, u, tab, interp ? pairs.data() : nullptr,
                                  dense ? rows.data() : nullptr, batch, steps, n,
                                  pow2_at_least(reach + 1), depth, cells, alpha, beta, gamma,
                                  threshold, hold};
  const int threads = team(batch, batch * steps * n);
  SSNN_PRAGMA(omp parallel num_threads(threads) if (threads > 1))
  {
    std::vector<scalar_t> ring(a.slots * n * cells), v(n), cur(n);
    std::vector<int64_t> spikes(n);
    std::vector<int32_t> left(hold > 0 ? n : 0);  // refractory steps left per neuron
    SSNN_PRAGMA(omp for schedule(dynamic, 1))
    for (int64_t b = 0; b < batch; ++b) {
      std::fill(ring.begin(), ring.end(), scalar_t(0));
      std::fill(v.begin(), v.end(), scalar_t(0));
      std::fill(cur.begin(), cur.end(), scalar_t(0));
      std::fill(left.begin(), left.end(), 0);
      for (int64_t t = 0; t < steps; ++t) {
        const int64_t row = (b * steps + t) * n;
        const int64_t n_spikes =
            hold > 0 ? neuron_update<scalar_t, true>(a, row, v.data(), cur.data(), left.data(),
                                                     spikes.data())
                     : neuron_update<scalar_t, false>(a, row, v.data(), cur.data(), nullptr,
                                                      spikes.data());
        arrivals(a, row, t, ring.data(), cur.data(), spikes.data(), n_spikes);
      }
    }
  }
}

}  // namespace cpu
}  // namespace ssnn

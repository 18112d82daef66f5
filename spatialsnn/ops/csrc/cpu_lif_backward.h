// CPU kernel of the exact backward pass of the recurrent LIF layer (lif_recurrent).
//
// The discrete adjoint of spatialsnn/ops/_reference.py, step t backwards:
//   G[t, j]   = dL/dz[t, j] + sum_i sum_k c_ij(k) lam_I[t + k, i]      (dense: every j)
//   lam_u[t]  = alpha lam_u[t+1] (1 - z[t]) + G[t] surrogate'(u[t] - theta)  (0 if refractory)
//   dL/d drive[t] = lam_I[t],  lam_I[t-1] = beta lam_I[t] + gamma lam_u[t]
//   dL/dw_ij, dL/dd_ij: sums of lam_I[t + k0_ij (+1), i] over the spikes (t, lane) of j.
//
// Work split. The batch is divided into groups of 4, 8 or 16 lanes (from the batch size), and
// a pass handles 1, 2 or 4 groups, L <= 64 lanes, for the whole time loop (passes are
// independent: one thread each, no synchronisation); the lanes are the SIMD dimension.
//
// Layouts of a pass (all 64-byte aligned):
//   ring of lam_I   [n_post][slots][L], a column per postsynaptic neuron, padded by one
//                   cache line per column so that columns do not share L1 sets
//   step tiles      [n][L + pad] (dL/dz, z, u, lam_u, dL/d drive of the current step;
//                   pad: one cache line for rows of a line or more, else none),
//                   transposed from / to the [B][T][N] tensors once per step
//   delay table     pre-major (entry j * n + i): the dense sum for one presynaptic j reads
//                   its row contiguously and keeps its L accumulators in registers.
//
// Two orders of the dense sum (plan_backward chooses; both add the terms of G[t, j] in the
// order of i, so they give the same bits): by presynaptic neuron j (the default: accumulators
// in registers, blocks of columns for short delays, prefetching for long ones), or by
// postsynaptic column i with a post-major table (long delays with 4 float lanes, where a
// column stays in the L1 cache and the accumulators stream through it).
//
// Weight and delay gradients. Only at spiking (t, j, lane), vectorised over i: the pass adds
// lam_I[t + k0, i] to A0[j, i] and lam_I[t + k0 + 1, i] - lam_I[t + k0, i] to D[j, i]; at the
// end dL/dd_ij = w_ij D and dL/dw_ij = A0 + f D (interpolate: the two taps (1-f), f) or
// A0 + [k_round > k0] D (round mode: the tap read forward). A0 and D are summed per group of
// lanes and the groups are added in a fixed order, so the results depend neither on the
// lanes per pass nor on the number of threads.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu_common.h"
#include "delay_kernels.cuh"

namespace ssnn {
namespace cpu {

// Batch lanes of one gradient partial sum, from the batch size alone (so that the sums do
// not depend on the number of threads): 16 for batches of 32 or more, 8 from 8, else 4. A
// pass covers 1, 2 or 4 groups (at most 64 lanes).
inline int lane_group(int64_t batch) { return batch >= 32 ? 16 : (batch >= 8 ? 8 : 4); }

template <typename scalar_t>
struct LifBackwardCpu {
  const scalar_t* grad_z;  // [B][T][N]
  const scalar_t* z;       // [B][T][N]
  const scalar_t* u;       // [B][T][N]
  scalar_t* g_drive;       // [B][T][N] out
  scalar_t* a0_c;  // [groups][N_pre][N_post] sums of lam_I[t + k0] at spikes, zeroed
                   // ([groups][N_post][N_pre] where the passes go by column)
  scalar_t* d_c;   // the same for the sums of the tap difference
  DelayTable<scalar_t> tab;  // pre-major (entry j * n + i), post-major (i * n + j) by column
  int64_t batch, steps, n, reach, slots;  // slots: a power of two >= reach + 2
  int64_t group;                          // lanes per partial sum (lane_group(batch))
  int64_t block;                          // postsynaptic columns per block (BackwardPlan)
  bool by_column;                         // the order of the dense sum (BackwardPlan)
  scalar_t alpha, beta, gamma, threshold, slope;
  int32_t refr;  // refractory period R, clamped to [0, steps]
};

// Strides of one pass of L lanes: a tile row (L, plus one cache line where a row fills one
// or more lines) and a ring column. Rows below a cache line stay unpadded: the by-column
// order streams the accumulator tile, which then takes n * 16 bytes, not n * 80.
template <typename scalar_t, int L>
struct PassLayout {
  static constexpr int64_t kPad = 64 / sizeof(scalar_t);
  static constexpr int64_t kRow = L * int64_t(sizeof(scalar_t)) < 64 ? L : L + kPad;
  int64_t slots, mask, col;  // col = slots * L + kPad

  explicit PassLayout(int64_t ring_slots)
      : slots(ring_slots), mask(ring_slots - 1), col(ring_slots * L + kPad) {}
};

// G[t, j, lanes] += sum_i c_ij(k) lam_I[t + k, i, lanes] for one presynaptic neuron j, with
// the L accumulators in registers (vectors of up to 64 bytes).
template <typename scalar_t, int L, bool kInterp>
inline void adjoint_sum(scalar_t* __restrict acc, const scalar_t* __restrict ring,
                        const DelayTable<scalar_t>& tab, int64_t j, int64_t n, int64_t i0,
                        int64_t i1, const PassLayout<scalar_t, L>& lay, int64_t now,
                        const int32_t* __restrict next_ka) {
  using V = typename LaneVec<scalar_t, L>::type;
  constexpr int kWidth = LaneVec<scalar_t, L>::kWidth;
  constexpr int kVecs = LaneVec<scalar_t, L>::kCount;
  const int32_t* __restrict ka = tab.k_a + j * n;
  const scalar_t* __restrict ca = tab.c_a + j * n;
  const scalar_t* __restrict cb = tab.c_b + j * n;
  V r[kVecs];
  for (int v = 0; v < kVecs; ++v) r[v] = *reinterpret_cast<const V*>(acc + v * kWidth);
  for (int64_t i = i0; i < i1; ++i) {
    const scalar_t* __restrict col = ring + i * lay.col;
    const int64_t s = now + ka[i];
    if (next_ka != nullptr) {  // long delays: the rows of the next j are scattered, fetch early
      const scalar_t* ahead = col + ((now + next_ka[i]) & lay.mask) * L;
      for (int64_t off = 0; off < 2 * L; off += 64 / int64_t(sizeof(scalar_t))) {
        __builtin_prefetch(ahead + off);
      }
    }
    const V* p0 = reinterpret_cast<const V*>(col + (s & lay.mask) * L);
    const V c0 = V{} + ca[i];
    if constexpr (kInterp) {
      const V* p1 = reinterpret_cast<const V*>(col + ((s + 1) & lay.mask) * L);
      const V c1 = V{} + cb[i];
      for (int v = 0; v < kVecs; ++v) {
        r[v] = fmadd<scalar_t>(c1, p1[v], fmadd<scalar_t>(c0, p0[v], r[v]));
      }
    } else {
      for (int v = 0; v < kVecs; ++v) r[v] = fmadd<scalar_t>(c0, p0[v], r[v]);
    }
  }
  for (int v = 0; v < kVecs; ++v) *reinterpret_cast<V*>(acc + v * kWidth) = r[v];
}

// A spike of presynaptic neuron j in lane w at the current step: A0[j, i] += lam_I[t + k0],
// D[j, i] += lam_I[t + k0 + 1] - lam_I[t + k0] for every i (SIMD over i, gathering from the
// ring with 32-bit offsets: the caller keeps n * col below 2^31).
template <typename scalar_t, int L>
inline void spike_sums(scalar_t* __restrict a0, scalar_t* __restrict d,
                       const scalar_t* __restrict ring, const DelayTable<scalar_t>& tab,
                       int64_t j, int64_t n, const PassLayout<scalar_t, L>& lay, int64_t now,
                       int w) {
  const int32_t mask = static_cast<int32_t>(lay.mask), at = static_cast<int32_t>(now);
  const int32_t col = static_cast<int32_t>(lay.col), n32 = static_cast<int32_t>(n);
  const int32_t* __restrict k0 = tab.k_0 + j * n;
  const scalar_t* __restrict lane = ring + w;
  SSNN_PRAGMA(omp simd)
  for (int32_t i = 0; i < n32; ++i) {
    const int32_t s0 = at + k0[i];
    const scalar_t v0 = lane[i * col + (s0 & mask) * L];
    const scalar_t v1 = lane[i * col + ((s0 + 1) & mask) * L];
    a0[i] += v0;
    d[i] += v1 - v0;
  }
}

// By column (post-major order), for long delays whose rows in reach of one column are read
// several times per step: G[t, j, lanes] += c_ij(k) lam_I[t + k, i, lanes] for every j, with
// the column of i cache-resident and the accumulators streamed. The additions to G[t, j]
// come in the order of i as in adjoint_sum, so both orders give the same bits.
// The rows in reach of the next column (`next`, null for the last) are prefetched meanwhile,
// one cache line every `stride` presynaptic neurons, so that its misses overlap this work.
template <typename scalar_t, int L, bool kInterp>
inline void adjoint_column(scalar_t* __restrict acc, const scalar_t* __restrict col,
                           const scalar_t* next, const DelayTable<scalar_t>& cols, int64_t i,
                           int64_t n, const PassLayout<scalar_t, L>& lay, int64_t now,
                           int64_t rows) {
  using V = typename LaneVec<scalar_t, L>::type;
  constexpr int kVecs = LaneVec<scalar_t, L>::kCount;
  constexpr int64_t P = PassLayout<scalar_t, L>::kRow;
  constexpr int64_t kRowBytes = L * int64_t(sizeof(scalar_t));
  constexpr int64_t kRowsPerLine = kRowBytes < 64 ? 64 / kRowBytes : 1;
  const int64_t lines = next != nullptr ? (rows + kRowsPerLine - 1) / kRowsPerLine : 0;
  const int64_t stride = std::max<int64_t>(1, n / std::max<int64_t>(lines, 1));
  const int32_t* __restrict ka = cols.k_a + i * n;
  const scalar_t* __restrict ca = cols.c_a + i * n;
  const scalar_t* __restrict cb = cols.c_b + i * n;
  int64_t line = 0, at = 0;  // the next line to prefetch, at presynaptic neuron `at`
  for (int64_t j = 0; j < n; ++j) {
    if (j == at && line < lines) {
      const int64_t row = (now + line * kRowsPerLine) & lay.mask;
      for (int64_t off = 0; off < L; off += 64 / int64_t(sizeof(scalar_t))) {
        __builtin_prefetch(next + row * L + off);
      }
      ++line;
      at += stride;
    }
    V* r = reinterpret_cast<V*>(acc + j * P);
    const int64_t s = now + ka[j];
    const V* p0 = reinterpret_cast<const V*>(col + (s & lay.mask) * L);
    const V c0 = V{} + ca[j];
    if constexpr (kInterp) {
      const V* p1 = reinterpret_cast<const V*>(col + ((s + 1) & lay.mask) * L);
      const V c1 = V{} + cb[j];
      for (int v = 0; v < kVecs; ++v) {
        r[v] = fmadd<scalar_t>(c1, p1[v], fmadd<scalar_t>(c0, p0[v], r[v]));
      }
    } else {
      for (int v = 0; v < kVecs; ++v) r[v] = fmadd<scalar_t>(c0, p0[v], r[v]);
    }
  }
}

// The spike sums of spike_sums for column i and the spiking presynaptic neurons `spiking`
// (lanes in ascending order per (j, i), as there), into post-major partial sums
// [groups][N_post][N_pre]; lane w belongs to group w >> group_shift of the pass.
template <typename scalar_t, int L>
inline void spike_column(scalar_t* __restrict a0, scalar_t* __restrict d,
                         const scalar_t* __restrict col, const DelayTable<scalar_t>& cols,
                         int64_t i, int64_t n, const PassLayout<scalar_t, L>& lay, int64_t now,
                         const int64_t* spiking, int64_t n_spiking, const uint64_t* spiked,
                         int64_t group0, int group_shift) {
  const int32_t* __restrict k0 = cols.k_0 + i * n;
  for (int64_t q = 0; q < n_spiking; ++q) {
    const int64_t j = spiking[q];
    const int64_t s0 = now + k0[j];
    const scalar_t* __restrict p0 = col + (s0 & lay.mask) * L;
    const scalar_t* __restrict p1 = col + ((s0 + 1) & lay.mask) * L;
    for (uint64_t m = spiked[j]; m != 0u; m &= m - 1u) {
      const int w = __builtin_ctzll(m);
      const int64_t e = ((group0 + (w >> group_shift)) * n + i) * n + j;  // post-major
      a0[e] += p0[w];
      d[e] += p1[w] - p0[w];
    }
  }
}

// The step's inputs of one pass, as lane-fastest tiles: dL/dz (the accumulator of G), z, u.
template <typename scalar_t, int L>
inline void load_step(const LifBackwardCpu<scalar_t>& a, int64_t b0, int64_t lanes, int64_t t,
                      scalar_t* __restrict acc, scalar_t* __restrict zt, scalar_t* __restrict ut,
                      uint64_t* __restrict spiked) {
  constexpr int64_t P = PassLayout<scalar_t, L>::kRow;
  const int64_t n = a.n;
  for (int64_t w = 0; w < lanes; ++w) {
    const int64_t row = ((b0 + w) * a.steps + t) * n;
    const scalar_t* __restrict gz = a.grad_z + row;
    const scalar_t* __restrict zz = a.z + row;
    const scalar_t* __restrict uu = a.u + row;
    for (int64_t j = 0; j < n; ++j) {
      acc[j * P + w] = gz[j];
      zt[j * P + w] = zz[j];
      ut[j * P + w] = uu[j];
    }
  }
  for (int64_t j = 0; j < n; ++j) {
    uint64_t m = 0;
    for (int w = 0; w < L; ++w) m |= uint64_t(zt[j * P + w] != scalar_t(0)) << w;
    spiked[j] = m;
  }
}

// Refractory period R >= 2: held[j, w] = 1 where step t was refractory (a spike in steps
// [t-R+1, t-1]), from a count per (j, lane) counted once for t = steps-1 and then moved by
// one step per step (z[t-R] enters, z[t-1] leaves the window of step t-1).
template <typename scalar_t, int L>
inline void refractory_step(const LifBackwardCpu<scalar_t>& a, int64_t b0, int64_t lanes,
                            int64_t t, int32_t* __restrict recent, scalar_t* __restrict held) {
  constexpr int64_t P = PassLayout<scalar_t, L>::kRow;
  const int64_t n = a.n, refr = a.refr;
  for (int64_t w = 0; w < lanes; ++w) {
    const int64_t row = ((b0 + w) * a.steps + t) * n;
    const scalar_t* z_in = t >= refr ? a.z + row - refr * n : nullptr;
    const scalar_t* z_out = t > 0 ? a.z + row - n : nullptr;
    for (int64_t j = 0; j < n; ++j) {
      int32_t& rc = recent[j * P + w];
      held[j * P + w] = rc > 0 ? scalar_t(1) : scalar_t(0);
      if (z_in != nullptr) rc += z_in[j] != scalar_t(0);
      if (z_out != nullptr) rc -= z_out[j] != scalar_t(0);
    }
  }
}

// lam_u[t], dL/d drive[t] = lam_I[t] and lam_I[t-1] (into the ring), SIMD over the lanes.
template <typename scalar_t, int L>
inline void neuron_step(const LifBackwardCpu<scalar_t>& a, const PassLayout<scalar_t, L>& lay,
                        scalar_t* __restrict ring, scalar_t* __restrict lam_u,
                        const scalar_t* __restrict acc, const scalar_t* __restrict zt,
                        const scalar_t* __restrict ut, const scalar_t* __restrict held,
                        scalar_t* __restrict gdt, int64_t t) {
  constexpr int64_t P = PassLayout<scalar_t, L>::kRow;
  const scalar_t alpha = a.alpha, beta = a.beta, gamma = a.gamma;
  const scalar_t threshold = a.threshold, slope = a.slope;
  const int64_t now = t & lay.mask, prev = (t - 1) & lay.mask;
  for (int64_t j = 0; j < a.n; ++j) {
    const scalar_t* __restrict li = ring + j * lay.col + now * L;
    scalar_t* __restrict lp = ring + j * lay.col + prev * L;
    const int64_t k0 = j * P;
    SSNN_PRAGMA(omp simd)
    for (int w = 0; w < L; ++w) {
      const int64_t k = k0 + w;
      scalar_t lu = alpha * lam_u[k] * (scalar_t(1) - zt[k]) +
                    acc[k] * superspike(ut[k] - threshold, slope);
      if (held != nullptr) lu = held[k] != scalar_t(0) ? scalar_t(0) : lu;
      lam_u[k] = lu;
      gdt[k] = li[w];
      lp[w] = beta * li[w] + gamma * lu;  // lam_I[t-1]; at t = 0 it is never read
    }
  }
}

// The dense sum and the spike sums of one step by presynaptic neuron, in blocks of `block`
// postsynaptic columns whose rows in reach fit the L1 cache (block = n for long delays; then
// the spike sums of j follow its dense sum, reading the rows that sum just brought in, and
// the rows of the next j are prefetched).
template <typename scalar_t, int L, bool kInterp>
inline void step_by_neuron(const LifBackwardCpu<scalar_t>& a, const PassLayout<scalar_t, L>& lay,
                           const scalar_t* ring, scalar_t* acc, const uint64_t* spiked,
                           int64_t group0, int64_t now, int64_t block) {
  constexpr int64_t P = PassLayout<scalar_t, L>::kRow;
  const int64_t n = a.n, last = (n - 1) / block * block;
  for (int64_t i0 = 0; i0 < n; i0 += block) {
    const int64_t i1 = std::min(n, i0 + block);
    for (int64_t j = 0; j < n; ++j) {
      const int32_t* next_ka = block == n && j + 1 < n ? a.tab.k_a + (j + 1) * n : nullptr;
      adjoint_sum<scalar_t, L, kInterp>(acc + j * P, ring, a.tab, j, n, i0, i1, lay, now,
                                        next_ka);
      if (i0 != last) continue;
      for (uint64_t m = spiked[j]; m != 0u; m &= m - 1u) {
        const int w = __builtin_ctzll(m);
        const int64_t off = ((group0 + w / a.group) * n + j) * n;
        spike_sums<scalar_t, L>(a.a0_c + off, a.d_c + off, ring, a.tab, j, n, lay, now, w);
      }
    }
  }
}

// The same by postsynaptic column (a.tab post-major), each column's dense and spike sums
// together; `spiking` is scratch for the list of spiking presynaptic neurons.
template <typename scalar_t, int L, bool kInterp>
inline void step_by_column(const LifBackwardCpu<scalar_t>& a, const PassLayout<scalar_t, L>& lay,
                           const scalar_t* ring, scalar_t* acc, const uint64_t* spiked,
                           int64_t* spiking, int64_t group0, int64_t now) {
  const int64_t n = a.n;
  int64_t n_spiking = 0;
  for (int64_t j = 0; j < n; ++j) {
    if (spiked[j] != 0u) spiking[n_spiking++] = j;
  }
  const int shift = __builtin_ctzll(static_cast<uint64_t>(a.group));  // groups: 4, 8 or 16
  const int64_t rows = std::min<int64_t>(a.reach + 2, a.slots);
  for (int64_t i = 0; i < n; ++i) {
    const scalar_t* col = ring + i * lay.col;
    const scalar_t* next = i + 1 < n ? col + lay.col : nullptr;
    adjoint_column<scalar_t, L, kInterp>(acc, col, next, a.tab, i, n, lay, now, rows);
    spike_column<scalar_t, L>(a.a0_c, a.d_c, col, a.tab, i, n, lay, now, spiking, n_spiking,
                              spiked, group0, shift);
  }
}

// One pass: lanes b0 .. b0 + L - 1 (lanes past the batch stay zero), the whole time loop.
template <typename scalar_t, int L, bool kInterp>
void lif_backward_pass(const LifBackwardCpu<scalar_t>& a, int64_t b0) {
  constexpr int64_t P = PassLayout<scalar_t, L>::kRow;
  const PassLayout<scalar_t, L> lay(a.slots);
  const int64_t n = a.n, steps = a.steps;
  const int64_t lanes = std::min<int64_t>(L, a.batch - b0);
  const bool refractory = a.refr > 1;
  AlignedBuffer<scalar_t> ring(n * lay.col), acc(n * P), lam_u(n * P), zt(n * P), ut(n * P),
      gdt(n * P), held(refractory ? n * P : 0);
  std::vector<uint64_t> spiked(n);
  std::vector<int64_t> spiking(n);
  std::vector<int32_t> recent(refractory ? n * P : 0, 0);  // [j][P] spikes in the window
  if (refractory) {
    for (int64_t w = 0; w < lanes; ++w) {
      for (int64_t s = std::max<int64_t>(steps - a.refr, 0); s < steps - 1; ++s) {
        const scalar_t* zr = a.z + ((b0 + w) * steps + s) * n;
        for (int64_t j = 0; j < n; ++j) recent[j * P + w] += zr[j] != scalar_t(0);
      }
    }
  }
  const int64_t group0 = b0 / a.group;

  for (int64_t t = steps - 1; t >= 0; --t) {
    const int64_t now = t & lay.mask;
    load_step<scalar_t, L>(a, b0, lanes, t, acc.get(), zt.get(), ut.get(), spiked.data());
    if (a.by_column) {
      step_by_column<scalar_t, L, kInterp>(a, lay, ring.get(), acc.get(), spiked.data(),
                                           spiking.data(), group0, now);
    } else {
      step_by_neuron<scalar_t, L, kInterp>(a, lay, ring.get(), acc.get(), spiked.data(), group0,
                                           now, a.block);
    }
    if (refractory) refractory_step<scalar_t, L>(a, b0, lanes, t, recent.data(), held.get());
    neuron_step<scalar_t, L>(a, lay, ring.get(), lam_u.get(), acc.get(), zt.get(), ut.get(),
                             refractory ? held.get() : nullptr, gdt.get(), t);
    for (int64_t w = 0; w < lanes; ++w) {  // dL/d drive[t], back to [B][T][N]
      scalar_t* __restrict out = a.g_drive + ((b0 + w) * steps + t) * n;
      const scalar_t* __restrict src = gdt.get() + w;
      for (int64_t j = 0; j < n; ++j) out[j] = src[j * P];
    }
  }
}

// Groups per pass: as many (1, 2 or 4) as keep at least one pass per thread and the ring of
// a pass within about the L2 cache of a core (1 MiB), so long delays get one group.
inline int groups_per_pass(int64_t groups, int threads, int64_t ring_bytes_per_group) {
  constexpr int64_t kRingBudget = int64_t(1) << 20;
  for (int g : {4, 2}) {
    if (groups >= int64_t(g) * threads && g * ring_bytes_per_group <= kRingBudget) return g;
  }
  return 1;
}

template <typename scalar_t, int L>
void run_passes(const LifBackwardCpu<scalar_t>& a, bool interp, int64_t passes, int threads) {
  SSNN_PRAGMA(omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1))
  for (int64_t p = 0; p < passes; ++p) {
    if (interp) {
      lif_backward_pass<scalar_t, L, true>(a, p * L);
    } else {
      lif_backward_pass<scalar_t, L, false>(a, p * L);
    }
  }
}

// Largest number of ring entries of a pass that the 32-bit gathers allow: n * col < 2^31.
inline bool ring_fits_int32(int64_t n, int64_t slots) {
  return n * (slots * 64 + 64) < (int64_t(1) << 31);
}

// The order of the dense sum: chosen by plan_backward, or forced (the environment variable
// SPATIALSNN_CPU_BACKWARD_ORDER, for tests and benchmarks: both orders give the same bits).
enum class Order { kAuto, kNeuron, kColumn };

// How lif_backward splits its work; the caller builds the delay table in the layout that
// `by_column` asks for (post-major if true, else pre-major).
struct BackwardPlan {
  int64_t slots;          // ring slots: a power of two >= reach + 2 (reads t .. t+reach+1)
  int64_t group, groups;  // lanes per partial sum, and partial sums
  int64_t lanes, passes;  // lanes per pass (group * groups per pass), and passes
  int64_t block;          // columns per block of the order by neuron (n: no blocks)
  int threads;
  bool by_column;
};

// Blocks: as many postsynaptic columns as have their rows in reach (t .. t + reach + 1) in
// about 16 KiB; fewer than 8 (long delays) means no blocks, the rows read being scattered
// anyway. By column (adjoint_column) rather than by presynaptic neuron: without blocks and
// with ring rows of 16 bytes (4 float lanes), where a gather by presynaptic neuron uses a
// quarter of each cache line it brings in. Measured on a 2-core Xeon, one build, both orders
// forced in turn (SPATIALSNN_CPU_BACKWARD_ORDER), time by column / by neuron: 0.68 at
// T:B:N:D = 250:4:512:1000. The rule is conservative: 32-byte rows at N >= 256 also gain
// (0.83-0.95, and 0.82 at 250:4:512:64 with blocks), N = 128 with rows of 32 or 64 bytes
// loses (1.08-1.59); a sweep over N, lanes and delays should set it (issue 14's note).
inline BackwardPlan plan_backward(int64_t batch, int64_t steps, int64_t n, int64_t reach,
                                  int64_t elem, Order order) {
  BackwardPlan p{};
  p.slots = pow2_at_least(reach + 2);
  p.group = lane_group(batch);
  p.groups = (batch + p.group - 1) / p.group;
  const int avail = team(p.groups, p.groups * steps * n * n);
  const int g = groups_per_pass(p.groups, avail, n * p.slots * p.group * elem);
  p.lanes = p.group * g;
  p.passes = (p.groups + g - 1) / g;
  p.threads = static_cast<int>(std::min<int64_t>(avail, p.passes));
  const int64_t rows = std::min<int64_t>(reach + 2, p.slots), row_bytes = p.lanes * elem;
  p.block = (16 << 10) / (rows * row_bytes);
  if (p.block < 8) p.block = n;
  const bool auto_column = p.block == n && row_bytes <= 16;
  p.by_column = order == Order::kColumn || (order == Order::kAuto && auto_column);
  return p;
}

// `tab` in the layout of plan.by_column; `reach` = table_reach(...) = delay_reach(...)
// (ring_fits_int32 checked by the caller); g_w and g_d are [post][pre].
template <typename scalar_t>
void lif_backward(const scalar_t* grad_z, const scalar_t* z, const scalar_t* u, scalar_t* g_drive,
                  scalar_t* g_w, scalar_t* g_d, const DelayTable<scalar_t>& tab,
                  const BackwardPlan& plan, int64_t batch, int64_t steps, int64_t n,
                  int64_t reach, scalar_t alpha, scalar_t beta, scalar_t gamma,
                  scalar_t threshold, scalar_t slope, int32_t refr, bool interp) {
  const int64_t groups = plan.groups, passes = plan.passes;
  const int threads = plan.threads;
  std::vector<scalar_t> a0_c(groups * n * n, scalar_t(0)), d_c(groups * n * n, scalar_t(0));
  const LifBackwardCpu<scalar_t> a{grad_z, z, u, g_drive, a0_c.data(), d_c.data(), tab,
                                   batch, steps, n, reach, plan.slots, plan.group, plan.block,
                                   plan.by_column, alpha, beta, gamma, threshold, slope, refr};
  switch (plan.lanes) {
    case 64: run_passes<scalar_t, 64>(a, interp, passes, threads); break;
    case 32: run_passes<scalar_t, 32>(a, interp, passes, threads); break;
    case 16: run_passes<scalar_t, 16>(a, interp, passes, threads); break;
    case 8: run_passes<scalar_t, 8>(a, interp, passes, threads); break;
    default: run_passes<scalar_t, 4>(a, interp, passes, threads); break;
  }
  const int reducers = team(n, groups * n * n);
  SSNN_PRAGMA(omp parallel for schedule(static) num_threads(reducers) if (reducers > 1))
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t i = 0; i < n; ++i) {
      const int64_t e = plan.by_column ? i * n + j : j * n + i;  // table and partial sums
      scalar_t a0 = scalar_t(0), d = scalar_t(0);
      for (int64_t c = 0; c < groups; ++c) {
        a0 += a0_c[c * n * n + e];
        d += d_c[c * n * n + e];
      }
      // the tap read forward: interpolate (1-f) and f; round: k_a = k0 or k0 + 1
      const scalar_t f = interp ? tab.frac[e] : scalar_t(tab.k_a[e] > tab.k_0[e] ? 1 : 0);
      g_w[i * n + j] = a0 + f * d;
      g_d[i * n + j] = tab.w[e] * d;
    }
  }
}

}  // namespace cpu
}  // namespace ssnn

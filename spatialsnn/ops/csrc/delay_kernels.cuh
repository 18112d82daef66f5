// Device kernels of spatialsnn's delay operators, written once for CUDA and for the host.
//
// This header has no torch dependency. It is included by
//   * cuda_ops.cu      (the torch binding of the CUDA backend; executor `CudaExec`),
//   * cpu_ops.cpp      (the CPU extension, which runs the very same kernels on the host with
//                       `HostExec` for testing the CUDA algorithm without a GPU), and
//   * nvcc_harness.cu  (a torch-free translation unit that tests/test_cuda_sources.py compiles
//                       with nvcc, so that a type or syntax error in device code fails CI).
//
// Every kernel is a functor `f(idx)` over a flat index space, executed by one thread per
// index ("owner computes"): each output element is written by exactly one thread, in a fixed
// order, so no kernel needs floating-point atomics and the results do not depend on the
// launch configuration or on scheduling. The only atomic is an integer `atomicOr` that builds
// spike bitmasks (order-independent).
//
// Layouts (row-major, last index fastest):
//   drive, z, u, grad_z, g_drive   [B][T][N]             (the torch tensors)
//   delay tables                   [N_pre][N_post]       ("pre-major": entry e = j*N_post + i)
//   forward arrival ring           [L][B][N] (round), [L][B][N][2] (interpolate: c_a, c_b)
//                                                        L = kmax + 2 slots
//   spike bitmask (forward)        [T][B][W]             W = ceil(N / 32) words
//   adjoint of I (backward)        [T + kmax + 2][N][B]  zero beyond T-1 (batch fastest, so that
//                                                        a warp reads 32 batch rows coalesced)
//   refractory counters            [B][N] (forward), [N][B] (backward), int32, zeroed; only
//                                  allocated for a refractory period of 2 steps or more
//
// Refractory period R (steps): a neuron that spiked at step s is refractory in steps
// s+1 .. s+R-1 (membrane held, threshold off). R <= 1 changes nothing; the drivers then
// launch the kernels' <scalar_t, false> instantiations, which do not contain that code.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#include <cuda_runtime.h>
#define SSNN_HD __host__ __device__ __forceinline__
#else
#define SSNN_HD inline
#endif

namespace ssnn {

// ------------------------------------------------------------------------------ primitives

SSNN_HD float floor_(float x) { return floorf(x); }
SSNN_HD double floor_(double x) { return ::floor(x); }
SSNN_HD float abs_(float x) { return fabsf(x); }
SSNN_HD double abs_(double x) { return ::fabs(x); }

SSNN_HD void atomic_or(uint32_t* addr, uint32_t value) {
#if defined(__CUDA_ARCH__)
  atomicOr(reinterpret_cast<unsigned int*>(addr), static_cast<unsigned int>(value));
#else
  __atomic_fetch_or(addr, value, __ATOMIC_RELAXED);
#endif
}

// Index of the lowest set bit of a non-zero word.
SSNN_HD int lowest_bit(uint32_t word) {
#if defined(__CUDA_ARCH__)
  return __ffs(static_cast<int>(word)) - 1;
#else
  return __builtin_ctz(word);
#endif
}

// SuperSpike surrogate derivative 1 / (slope*|x| + 1)^2.
template <typename scalar_t>
SSNN_HD scalar_t superspike(scalar_t x, scalar_t slope) {
  const scalar_t d = slope * abs_(x) + scalar_t(1);
  return scalar_t(1) / (d * d);
}

// ------------------------------------------------------------------------------ delay table

// Per-synapse constants, pre-major: entry e = j * n_post + i for synapse pre j -> post i.
template <typename scalar_t>
struct DelayTable {
  int32_t* k_a;     // first arrival offset: round(d) (round mode) or floor(d) (interpolate)
  int32_t* k_0;     // floor(d): the two slots of the delay gradient are k_0 and k_0 + 1
  scalar_t* c_a;    // weight of slot k_a: w (round) or w * (1 - f) (interpolate)
  scalar_t* c_b;    // weight of slot k_a + 1: 0 (round) or w * f (interpolate)
  scalar_t* frac;   // f = d - floor(d)
  scalar_t* w;      // w
};

// Fill the table from weight/delay [n_post][n_pre] (contiguous). Delays are clamped to
// [0, kmax] here as well (NaN becomes 0), so no index can leave its buffer. The arithmetic
// is that of spatialsnn.ops._common.split_delay: k0 = floor(d), f = d - k0,
// kr = floor(d + 0.5). `post_major` stores entry (j -> i) at i * n_pre + j instead (the
// CPU backend's recurrent backward reads it that way).
template <typename scalar_t>
struct PrepareTable {
  DelayTable<scalar_t> tab;
  const scalar_t* weight;
  const scalar_t* delay;
  int64_t n_post, n_pre;
  int32_t kmax;
  bool interp;
  bool post_major;

  // One entry per index e of the table, in its own order: contiguous writes into the six
  // arrays (the reads of weight and delay are strided for a pre-major table).
  SSNN_HD void operator()(int64_t e) const {
    const int64_t j = post_major ? e % n_pre : e / n_post;
    const int64_t i = post_major ? e / n_pre : e - j * n_post;
    const int64_t idx = i * n_pre + j;
    const scalar_t wv = weight[idx];
    scalar_t d = delay[idx];
    d = d > scalar_t(0) ? d : scalar_t(0);
    d = d < scalar_t(kmax) ? d : scalar_t(kmax);
    const scalar_t k0 = floor_(d);
    const scalar_t f = d - k0;
    const scalar_t kr = floor_(d + scalar_t(0.5));
    tab.k_0[e] = static_cast<int32_t>(k0);
    tab.frac[e] = f;
    tab.w[e] = wv;
    if (interp) {
      tab.k_a[e] = static_cast<int32_t>(k0);
      tab.c_a[e] = wv * (scalar_t(1) - f);
      tab.c_b[e] = wv * f;
    } else {
      tab.k_a[e] = static_cast<int32_t>(kr);
      tab.c_a[e] = wv;
      tab.c_b[e] = scalar_t(0);
    }
  }
};

// ------------------------------------------------------------------------------ recurrent LIF

template <typename scalar_t>
struct LifForwardArgs {
  const scalar_t* drive;  // [B][T][N]
  scalar_t* z;            // [B][T][N] out: spikes 0/1
  scalar_t* u;            // [B][T][N] out: membrane after the state update (pre-threshold)
  scalar_t* v;            // [B][N] state, zero-initialised
  scalar_t* cur;          // [B][N] state (synaptic current I), zero-initialised
  scalar_t* ring;         // [L][B][N] future arrivals ([L][B][N][2] to interpolate), zeroed
  uint32_t* bits;         // [T][B][W] spike bitmask, zero-initialised
  int32_t* left;          // [B][N] refractory steps left, zero-initialised (null if hold == 0)
  DelayTable<scalar_t> tab;
  int64_t batch, steps, n, words, slots;
  scalar_t alpha, beta, gamma, threshold;
  int32_t hold;           // max(R - 1, 0): refractory steps that follow a spike
  bool interp;
};

// Step t, thread (b, i) (neuron fastest): finish step t-1 (its arrivals: I = beta*I +
// drive + ring; its reset), then do step t's state update and threshold. With
// kRefractory, a neuron with refractory steps left keeps u = V and cannot spike.
template <typename scalar_t, bool kRefractory>
struct LifAdvance {
  LifForwardArgs<scalar_t> a;
  int64_t t;

  SSNN_HD void operator()(int64_t idx) const {
    const int64_t b = idx / a.n;
    const int64_t i = idx - b * a.n;
    scalar_t vv = a.v[idx];
    scalar_t ii = a.cur[idx];
    if (t > 0) {
      const int64_t prev = (b * a.steps + t - 1) * a.n + i;
      ii = a.beta * ii + a.drive[prev];  // 3. arrivals of step t-1
      if (a.interp) {  // c_a parts due at t-1, c_b parts of the slot before (see LifScatter)
        const int64_t stride = a.batch * a.n * 2;
        scalar_t* here = a.ring + ((t - 1) % a.slots) * stride + idx * 2;
        scalar_t* late = a.ring + ((t - 2 + a.slots) % a.slots) * stride + idx * 2 + 1;
        ii = ii + (*here + *late);
        *here = scalar_t(0);
        *late = scalar_t(0);
      } else {
        scalar_t* slot = a.ring + (((t - 1) % a.slots) * a.batch + b) * a.n + i;
        ii = ii + *slot;
        *slot = scalar_t(0);
      }
      vv = a.z[prev] != scalar_t(0) ? scalar_t(0) : a.u[prev];  // 4. reset of step t-1
    }
    scalar_t uu;
    bool spike;
    if constexpr (kRefractory) {
      const int32_t left = a.left[idx];
      const bool ref = left > 0;
      uu = ref ? vv : a.alpha * vv + a.gamma * ii;  // 1. state update (held if refractory)
      spike = !ref && uu >= a.threshold;             // 2. threshold (off if refractory)
      a.left[idx] = spike ? a.hold : (ref ? left - 1 : 0);
    } else {
      uu = a.alpha * vv + a.gamma * ii;  // 1. state update of step t
      spike = uu >= a.threshold;         // 2. threshold
    }
    const int64_t here = (b * a.steps + t) * a.n + i;
    a.u[here] = uu;
    a.z[here] = spike ? scalar_t(1) : scalar_t(0);
    if (spike) {
      atomic_or(a.bits + (t * a.batch + b) * a.words + (i >> 5), uint32_t(1) << (i & 31));
    }
    a.v[idx] = vv;
    a.cur[idx] = ii;
  }
};

// Step t, thread (b, i): add the spikes of step t (presynaptic j, ascending) to i's future
// arrivals. The thread owns ring column (b, i), so no atomics are needed; all threads of a
// warp share b and therefore walk the same bitmask. To interpolate, a synapse adds the pair
// (c_a, c_b) to one cell of slot t + k_a: c_a arrives in that slot, c_b one slot later (one
// address and one 8/16-byte access per synapse instead of two; the CPU kernel does the same,
// so both sum the arrivals in the same order).
template <typename scalar_t>
struct LifScatter {
  LifForwardArgs<scalar_t> a;
  int64_t t;

  SSNN_HD void operator()(int64_t idx) const {
    const int64_t b = idx / a.n;
    const int64_t i = idx - b * a.n;
    const uint32_t* mask = a.bits + (t * a.batch + b) * a.words;
    const int64_t cells = a.interp ? 2 : 1;
    scalar_t* col = a.ring + idx * cells;
    const int64_t stride = a.batch * a.n * cells;
    const int64_t now = t % a.slots;
    for (int64_t w = 0; w < a.words; ++w) {
      uint32_t m = mask[w];
      while (m != 0u) {
        const int64_t j = w * 32 + lowest_bit(m);
        m &= m - 1u;
        const int64_t e = j * a.n + i;
        int64_t s = now + a.tab.k_a[e];
        if (s >= a.slots) s -= a.slots;
        scalar_t* cell = col + s * stride;
        cell[0] += a.tab.c_a[e];
        if (a.interp) cell[1] += a.tab.c_b[e];
      }
    }
  }
};

template <typename scalar_t>
struct LifBackwardArgs {
  const scalar_t* grad_z;  // [B][T][N]
  const scalar_t* z;       // [B][T][N]
  const scalar_t* u;       // [B][T][N]
  scalar_t* g_drive;       // [B][T][N] out
  scalar_t* lam;           // [T + kmax + 2][N][B] adjoint of I, zero-initialised
  scalar_t* lam_u;         // [N][B] adjoint of u at the step after the current one, zeroed
  scalar_t* g_w;           // [N][N] out, [post][pre]
  scalar_t* g_d;           // [N][N] out
  const int64_t* spk;      // flat indices (j*T + t)*B + b of spikes, sorted
  const int64_t* spk_off;  // [N + 1] start of presynaptic neuron j's spikes in spk
  int32_t* recent;         // [N][B] spikes in steps [t-R+1, t-1] (null if refractory <= 1)
  DelayTable<scalar_t> tab;
  int64_t batch, steps, n;
  scalar_t alpha, beta, gamma, threshold, slope;
  int32_t refractory;      // R, clamped to [0, T]
  bool interp;
};

// Step t (descending), thread (j, b) (batch fastest). Needs lam[t] (written by step t+1);
// computes G = dL/dz[t, j] + sum_i w_ij sum_k c_ij(k) lam_I[t + k, i], then
// lam_u[t] = alpha*lam_u[t+1]*(1 - z) + G * surrogate'(u - theta), and writes
// lam_I[t-1] = beta*lam_I[t] + gamma*lam_u[t]. Reads only lam[t .. t+kmax+1]; writes lam[t-1].
// With kRefractory, lam_u[t] = 0 where step t was refractory (a spike in [t-R+1, t-1]: the
// held membrane leads back only to the detached reset). The thread keeps that spike count
// in `recent`, counted once at t = T-1 and then updated by one step per launch.
template <typename scalar_t, bool kRefractory>
struct LifAdjointStep {
  LifBackwardArgs<scalar_t> a;
  int64_t t;

  SSNN_HD void operator()(int64_t idx) const {
    const int64_t j = idx / a.batch;
    const int64_t b = idx - j * a.batch;
    const int64_t nb = a.n * a.batch;
    const int64_t here = (b * a.steps + t) * a.n + j;
    scalar_t g = a.grad_z[here];
    const scalar_t* lam_b = a.lam + t * nb + b;  // lam[t][0][b]
    const int64_t e0 = j * a.n;
    if (a.interp) {
      for (int64_t i = 0; i < a.n; ++i) {
        const int64_t e = e0 + i;
        const scalar_t* p = lam_b + (int64_t(a.tab.k_a[e]) * a.n + i) * a.batch;
        g += a.tab.c_a[e] * p[0] + a.tab.c_b[e] * p[nb];
      }
    } else {
      for (int64_t i = 0; i < a.n; ++i) {
        const int64_t e = e0 + i;
        g += a.tab.c_a[e] * lam_b[(int64_t(a.tab.k_a[e]) * a.n + i) * a.batch];
      }
    }
    const scalar_t zz = a.z[here];
    scalar_t lu =
        a.alpha * a.lam_u[idx] * (scalar_t(1) - zz) + g * superspike(a.u[here] - a.threshold,
                                                                     a.slope);
    if constexpr (kRefractory) {
      const int64_t row = b * a.steps * a.n + j;  // z[b, s, j] = a.z[row + s * n]
      const int64_t r = a.refractory;
      int32_t recent = 0;
      if (t == a.steps - 1) {
        for (int64_t s = t - r + 1 > 0 ? t - r + 1 : 0; s < t; ++s) {
          recent += a.z[row + s * a.n] != scalar_t(0);
        }
      } else {
        recent = a.recent[idx];
      }
      if (recent > 0) lu = scalar_t(0);
      if (t > 0) {  // the window of step t-1: [t-R, t-2]
        if (t - r >= 0) recent += a.z[row + (t - r) * a.n] != scalar_t(0);
        recent -= a.z[row + (t - 1) * a.n] != scalar_t(0);
        a.recent[idx] = recent;
      }
    }
    a.lam_u[idx] = lu;
    const scalar_t li = a.lam[t * nb + j * a.batch + b];
    a.g_drive[here] = li;
    if (t > 0) a.lam[(t - 1) * nb + j * a.batch + b] = a.beta * li + a.gamma * lu;
  }
};

// After the time loop, thread (j, i) = table entry e (post fastest): dL/dw_ij and dL/dd_ij
// summed over the spikes (t, b) of presynaptic neuron j, in ascending order.
template <typename scalar_t>
struct LifWeightGrad {
  LifBackwardArgs<scalar_t> a;

  SSNN_HD void operator()(int64_t e) const {
    const int64_t j = e / a.n;
    const int64_t i = e - j * a.n;
    const int64_t nb = a.n * a.batch;
    const int64_t k0 = a.tab.k_0[e];
    const int64_t ka = a.tab.k_a[e];
    const scalar_t f = a.tab.frac[e];
    scalar_t gw = scalar_t(0);
    scalar_t gd = scalar_t(0);
    for (int64_t s = a.spk_off[j]; s < a.spk_off[j + 1]; ++s) {
      const int64_t flat = a.spk[s];
      const int64_t b = flat % a.batch;
      const int64_t t = (flat / a.batch) % a.steps;
      const scalar_t* p = a.lam + (t + k0) * nb + i * a.batch + b;
      const scalar_t a0 = p[0];
      const scalar_t a1 = p[nb];
      if (a.interp) {
        gw += a0 * (scalar_t(1) - f) + a1 * f;
      } else {
        gw += a.lam[(t + ka) * nb + i * a.batch + b];
      }
      gd += a1 - a0;
    }
    a.g_w[i * a.n + j] = gw;
    a.g_d[i * a.n + j] = a.tab.w[e] * gd;
  }
};

// ------------------------------------------------------------------------------ delayed_linear

template <typename scalar_t>
struct LinearArgs {
  const scalar_t* x;        // [B][T][N_pre]
  scalar_t* y;              // [B][T][N_post] out, zero-initialised (forward)
  const int64_t* nz;        // forward: flat indices (b*T + s)*N_pre + j of x's non-zeros
  const scalar_t* nz_val;   //   their values
  const int64_t* nz_off;    //   [B + 1] start of batch b
  const int64_t* nzj;       // params: flat indices (j*B + b)*T + s of x's non-zeros
  const scalar_t* nzj_val;  //   their values
  const int64_t* nzj_off;   //   [N_pre + 1] start of presynaptic channel j
  const scalar_t* grad;     // [B][T][N_post]
  const scalar_t* grad_t;   // [T + kmax + 2][N_post][B], zero beyond T-1 (input gradient)
  scalar_t* g_x;            // [B][T][N_pre] out
  scalar_t* g_w;            // [N_post][N_pre] out
  scalar_t* g_d;            // [N_post][N_pre] out
  DelayTable<scalar_t> tab;
  int64_t batch, steps, n_pre, n_post;
  bool interp;
};

// Forward, thread (b, i) (post fastest): y[b, s + k_ij, i] += c_ij * x[b, s, j] for every
// non-zero x[b, s, j], in ascending (s, j).
template <typename scalar_t>
struct LinearForward {
  LinearArgs<scalar_t> a;

  SSNN_HD void operator()(int64_t idx) const {
    const int64_t b = idx / a.n_post;
    const int64_t i = idx - b * a.n_post;
    scalar_t* col = a.y + b * a.steps * a.n_post + i;
    for (int64_t q = a.nz_off[b]; q < a.nz_off[b + 1]; ++q) {
      const int64_t flat = a.nz[q];
      const int64_t j = flat % a.n_pre;
      const int64_t s = (flat / a.n_pre) % a.steps;
      const scalar_t xv = a.nz_val[q];
      const int64_t e = j * a.n_post + i;
      const int64_t t = s + a.tab.k_a[e];
      if (t < a.steps) col[t * a.n_post] += a.tab.c_a[e] * xv;
      if (a.interp && t + 1 < a.steps) col[(t + 1) * a.n_post] += a.tab.c_b[e] * xv;
    }
  }
};

// Input gradient, thread (s, j, b) (batch fastest):
// dx[b, s, j] = sum_i c_ij(k) grad[b, s + k, i], read from the padded, batch-fastest copy.
template <typename scalar_t>
struct LinearGradInput {
  LinearArgs<scalar_t> a;

  SSNN_HD void operator()(int64_t idx) const {
    const int64_t b = idx % a.batch;
    const int64_t rest = idx / a.batch;
    const int64_t j = rest % a.n_pre;
    const int64_t s = rest / a.n_pre;
    const int64_t nb = a.n_post * a.batch;
    const scalar_t* g_b = a.grad_t + s * nb + b;
    const int64_t e0 = j * a.n_post;
    scalar_t acc = scalar_t(0);
    for (int64_t i = 0; i < a.n_post; ++i) {
      const int64_t e = e0 + i;
      const scalar_t* p = g_b + (int64_t(a.tab.k_a[e]) * a.n_post + i) * a.batch;
      acc += a.tab.c_a[e] * p[0];
      if (a.interp) acc += a.tab.c_b[e] * p[nb];
    }
    a.g_x[(b * a.steps + s) * a.n_pre + j] = acc;
  }
};

// Weight and delay gradients, thread (j, i) = table entry e: sums over the non-zeros of
// presynaptic channel j.
template <typename scalar_t>
struct LinearGradParams {
  LinearArgs<scalar_t> a;

  SSNN_HD scalar_t read(int64_t b, int64_t t, int64_t i) const {
    return t < a.steps ? a.grad[(b * a.steps + t) * a.n_post + i] : scalar_t(0);
  }

  SSNN_HD void operator()(int64_t e) const {
    const int64_t j = e / a.n_post;
    const int64_t i = e - j * a.n_post;
    const int64_t k0 = a.tab.k_0[e];
    const int64_t ka = a.tab.k_a[e];
    const scalar_t f = a.tab.frac[e];
    scalar_t gw = scalar_t(0);
    scalar_t gd = scalar_t(0);
    for (int64_t q = a.nzj_off[j]; q < a.nzj_off[j + 1]; ++q) {
      const int64_t flat = a.nzj[q];
      const int64_t s = flat % a.steps;
      const int64_t b = (flat / a.steps) % a.batch;
      const scalar_t xv = a.nzj_val[q];
      const scalar_t a0 = read(b, s + k0, i);
      const scalar_t a1 = read(b, s + k0 + 1, i);
      if (a.interp) {
        gw += xv * (a0 * (scalar_t(1) - f) + a1 * f);
      } else {
        gw += xv * read(b, s + ka, i);
      }
      gd += xv * (a1 - a0);
    }
    a.g_w[i * a.n_pre + j] = gw;
    a.g_d[i * a.n_pre + j] = a.tab.w[e] * gd;
  }
};

// ------------------------------------------------------------------------------ spike_linear

// y = x @ weight^T over the non-zeros of x only (input spikes), rows = batch * time.
template <typename scalar_t>
struct SpikeLinearArgs {
  const int64_t* ptr;    // forward: [rows + 1] start of row r; grad: [n_in + 1] of column j
  const int64_t* idx;    // forward: column j of each non-zero; grad: its row r
  const scalar_t* val;   // its value
  const scalar_t* wt;    // forward: weight^T [n_in][n_out]
  const scalar_t* grad;  // grad: dL/dy [rows][n_out]
  scalar_t* out;         // forward: y [rows][n_out]; grad: dL/dweight [n_out][n_in]
  int64_t rows, n_in, n_out;
};

// Forward, thread (r, i) (output fastest): y[r, i] = sum_q val[q] * w[i, idx[q]] over the
// non-zeros q of row r, in ascending column order.
template <typename scalar_t>
struct SpikeLinearForward {
  SpikeLinearArgs<scalar_t> a;

  SSNN_HD void operator()(int64_t e) const {
    const int64_t r = e / a.n_out;
    const int64_t i = e - r * a.n_out;
    scalar_t acc = scalar_t(0);
    for (int64_t q = a.ptr[r]; q < a.ptr[r + 1]; ++q) acc += a.val[q] * a.wt[a.idx[q] * a.n_out + i];
    a.out[e] = acc;
  }
};

// Weight gradient, thread (j, i) (output fastest): dL/dw[i, j] = sum_q val[q] * grad[idx[q], i]
// over the non-zeros q of input column j, in ascending row order.
template <typename scalar_t>
struct SpikeLinearGradWeight {
  SpikeLinearArgs<scalar_t> a;

  SSNN_HD void operator()(int64_t e) const {
    const int64_t j = e / a.n_out;
    const int64_t i = e - j * a.n_out;
    scalar_t acc = scalar_t(0);
    for (int64_t q = a.ptr[j]; q < a.ptr[j + 1]; ++q) acc += a.val[q] * a.grad[a.idx[q] * a.n_out + i];
    a.out[i * a.n_in + j] = acc;
  }
};

// ------------------------------------------------------------------------------ drivers
//
// `Exec` runs a functor over [0, n): `ex.launch(n, functor)`, in stream order. Every buffer
// is allocated (and zeroed where stated above) by the caller.

template <class Exec, typename scalar_t>
void prepare_table(Exec& ex, const PrepareTable<scalar_t>& prep) {
  ex.launch(prep.n_post * prep.n_pre, prep);
}

template <class Exec, typename scalar_t>
void lif_forward(Exec& ex, const LifForwardArgs<scalar_t>& a) {
  const int64_t threads = a.batch * a.n;
  for (int64_t t = 0; t < a.steps; ++t) {
    if (a.hold > 0) {
      ex.launch(threads, LifAdvance<scalar_t, true>{a, t});
    } else {
      ex.launch(threads, LifAdvance<scalar_t, false>{a, t});
    }
    // The arrivals of the last step would only change I after the end of the sequence.
    if (t + 1 < a.steps) ex.launch(threads, LifScatter<scalar_t>{a, t});
  }
}

template <class Exec, typename scalar_t>
void lif_backward(Exec& ex, const LifBackwardArgs<scalar_t>& a) {
  const int64_t threads = a.batch * a.n;
  for (int64_t t = a.steps - 1; t >= 0; --t) {
    if (a.refractory > 1) {
      ex.launch(threads, LifAdjointStep<scalar_t, true>{a, t});
    } else {
      ex.launch(threads, LifAdjointStep<scalar_t, false>{a, t});
    }
  }
  ex.launch(a.n * a.n, LifWeightGrad<scalar_t>{a});
}

template <class Exec, typename scalar_t>
void linear_forward(Exec& ex, const LinearArgs<scalar_t>& a) {
  ex.launch(a.batch * a.n_post, LinearForward<scalar_t>{a});
}

template <class Exec, typename scalar_t>
void linear_grad_input(Exec& ex, const LinearArgs<scalar_t>& a) {
  ex.launch(a.steps * a.n_pre * a.batch, LinearGradInput<scalar_t>{a});
}

template <class Exec, typename scalar_t>
void linear_grad_params(Exec& ex, const LinearArgs<scalar_t>& a) {
  ex.launch(a.n_pre * a.n_post, LinearGradParams<scalar_t>{a});
}

template <class Exec, typename scalar_t>
void spike_linear_forward(Exec& ex, const SpikeLinearArgs<scalar_t>& a) {
  ex.launch(a.rows * a.n_out, SpikeLinearForward<scalar_t>{a});
}

template <class Exec, typename scalar_t>
void spike_linear_grad_weight(Exec& ex, const SpikeLinearArgs<scalar_t>& a) {
  ex.launch(a.n_in * a.n_out, SpikeLinearGradWeight<scalar_t>{a});
}

// ------------------------------------------------------------------------------ executors

#if defined(__CUDACC__)

template <class F>
__global__ void run_functor(int64_t n, F f) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < n; idx += stride) {
    f(idx);
  }
}

// Launches on one stream; remembers the first launch error (checked by the caller).
struct CudaExec {
  cudaStream_t stream;
  int max_blocks;
  cudaError_t error = cudaSuccess;

  const char* error_message() const {
    return error == cudaSuccess ? nullptr : cudaGetErrorString(error);
  }

  template <class F>
  void launch(int64_t n, const F& f) {
    if (n <= 0 || error != cudaSuccess) return;
    constexpr int threads = 256;
    int64_t blocks = (n + threads - 1) / threads;
    if (blocks > max_blocks) blocks = max_blocks;
    run_functor<F><<<static_cast<unsigned>(blocks), threads, 0, stream>>>(n, f);
    error = cudaGetLastError();
  }
};

#else  // host

// Runs each launch as one OpenMP parallel loop (sequentially without OpenMP). Valid because
// every kernel is owner-computes: the iterations of one launch are independent.
struct HostExec {
  int threads;

  const char* error_message() const { return nullptr; }

  template <class F>
  void launch(int64_t n, const F& f) {
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) num_threads(threads) if (n > 256)
#endif
    for (int64_t idx = 0; idx < n; ++idx) f(idx);
  }
};

#endif

}  // namespace ssnn

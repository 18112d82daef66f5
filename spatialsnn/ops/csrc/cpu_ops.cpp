// CPU backend of spatialsnn's delay operators (C++ / OpenMP), and a host emulation of the
// CUDA backend (the kernels of delay_kernels.cuh run by HostExec), used by the tests.
//
// Semantics are those of spatialsnn/ops/_reference.py; see docs/kernels.md for the design.
// The forward passes propagate only actual spikes / non-zero inputs: the recurrent forward
// keeps a ring buffer of future arrivals per batch element and scatters each spike's
// weights into slot t + k_ij. The recurrent backward keeps a ring buffer of the adjoint of
// I with the batch innermost, so that the dense part of the adjoint (the surrogate gradient
// reaches every neuron) is a SIMD loop over the batch, and it gathers weight and delay
// gradients only for spiking (t, j, b). Results do not depend on the number of threads.
// A refractory period of R >= 2 steps (held membrane, no threshold in the R-1 steps after a
// spike) is handled by separate copies of the per-step neuron loops, chosen once per step,
// so that R <= 1 runs exactly the loops it ran before refractoriness existed.
#include <torch/extension.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "delay_ops.h"

#if defined(_OPENMP)
#include <omp.h>
#define SSNN_PRAGMA(x) _Pragma(#x)
#else
#define SSNN_PRAGMA(x)
#endif

namespace ssnn {
namespace cpu {

inline int num_threads() { return std::max(1, at::get_num_threads()); }

// Threads for `tasks` independent tasks: no more than there are tasks, and one (no parallel
// region at all) for small work, where waking a thread team costs more than it saves (on a
// loaded machine, much more).
inline int team(int64_t tasks, int64_t work) {
  constexpr int64_t kMinParallelWork = int64_t(1) << 16;
  if (tasks < 2 || work < kMinParallelWork) return 1;
  return static_cast<int>(std::min<int64_t>(num_threads(), tasks));
}

// Wrap a slot index that is known to lie in [0, 2 * slots).
inline int64_t wrap(int64_t s, int64_t slots) { return s >= slots ? s - slots : s; }

// ------------------------------------------------------------------------------ recurrent

// `hold` = max(R - 1, 0): the refractory steps that follow a spike (0: no refractory period).
template <typename scalar_t>
void lif_forward(const scalar_t* drive, scalar_t* z, scalar_t* u, const DelayTable<scalar_t>& tab,
                 int64_t batch, int64_t steps, int64_t n, int64_t kmax, scalar_t alpha,
                 scalar_t beta, scalar_t gamma, scalar_t threshold, int32_t hold, bool interp) {
  const int64_t slots = kmax + 2;
  const int threads = team(batch, batch * steps * n);
  SSNN_PRAGMA(omp parallel num_threads(threads) if (threads > 1))
  {
    std::vector<scalar_t> ring(slots * n), v(n), cur(n);
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
        int64_t n_spikes = 0;
        if (hold > 0) {
          for (int64_t i = 0; i < n; ++i) {
            const int32_t l = left[i];
            const bool ref = l > 0;  // refractory: membrane held, threshold off
            const scalar_t uu = ref ? v[i] : alpha * v[i] + gamma * cur[i];
            const bool spike = !ref && uu >= threshold;
            left[i] = spike ? hold : (ref ? l - 1 : 0);
            u[row + i] = uu;
            z[row + i] = spike ? scalar_t(1) : scalar_t(0);
            v[i] = spike ? scalar_t(0) : uu;
            if (spike) spikes[n_spikes++] = i;
          }
        } else {
          for (int64_t i = 0; i < n; ++i) {
            const scalar_t uu = alpha * v[i] + gamma * cur[i];  // 1. state update
            const bool spike = uu >= threshold;                 // 2. threshold
            u[row + i] = uu;
            z[row + i] = spike ? scalar_t(1) : scalar_t(0);
            v[i] = spike ? scalar_t(0) : uu;  // 4. reset (applied before it is next needed)
            if (spike) spikes[n_spikes++] = i;
          }
        }
        const int64_t now = t % slots;
        scalar_t* ring_p = ring.data();
        for (int64_t q = 0; q < n_spikes; ++q) {  // 3a. scatter the spikes of step t
          const int64_t e0 = spikes[q] * n;
          const int32_t* ka = tab.k_a + e0;
          const scalar_t* ca = tab.c_a + e0;
          if (interp) {
            const scalar_t* cb = tab.c_b + e0;
            for (int64_t i = 0; i < n; ++i) {
              const int64_t s = wrap(now + ka[i], slots);
              ring_p[s * n + i] += ca[i];
              ring_p[wrap(s + 1, slots) * n + i] += cb[i];
            }
          } else {
            for (int64_t i = 0; i < n; ++i) ring_p[wrap(now + ka[i], slots) * n + i] += ca[i];
          }
        }
        scalar_t* arrive = ring_p + now * n;  // 3b. arrivals of step t
        const scalar_t* dr = drive + row;
        for (int64_t i = 0; i < n; ++i) {
          scalar_t ii = beta * cur[i] + dr[i];
          cur[i] = ii + arrive[i];
          arrive[i] = scalar_t(0);
        }
      }
    }
  }
}

// One chunk of W batch elements (b0 .. b0+W-1; lanes past the batch stay zero), the whole
// time loop, no synchronisation with other chunks. `tab` is post-major (entry i*n + j).
// Ring of lam_I: [n][slots][W], so that the gathers for one postsynaptic neuron i read one
// contiguous block of slots*W values (L1-resident) and the W lanes are one SIMD vector.
// Weight/delay gradients of the chunk go to gw_c/gd_c ([i][j]); the caller sums the chunks
// in a fixed order, so the result does not depend on the number of threads.
// Refractory period `refr` (R, clamped to [0, steps]): with R >= 2, lam_u[t] = 0 where
// step t was refractory, i.e. where there is a spike in steps [t-R+1, t-1]; that count is
// kept per (j, lane), counted once for t = steps-1 and then moved by one step per step.
template <typename scalar_t, int W>
void lif_backward_chunk(const scalar_t* grad_z, const scalar_t* z, const scalar_t* u,
                        scalar_t* g_drive, scalar_t* gw_c, scalar_t* gd_c,
                        const DelayTable<scalar_t>& tab, int64_t batch, int64_t steps,
                        int64_t n, int64_t kmax, int64_t b0, scalar_t alpha, scalar_t beta,
                        scalar_t gamma, scalar_t threshold, scalar_t slope, int32_t refr,
                        bool interp) {
  // Reads of step t cover times t .. t+kmax+1; lam_I[t-1] is written after them.
  const int64_t slots = kmax + 2;
  const int64_t lanes = std::min<int64_t>(W, batch - b0);
  std::vector<scalar_t> ring_v(n * slots * W, scalar_t(0));
  std::vector<scalar_t> acc_v(n * W), lam_u_v(n * W, scalar_t(0));
  std::vector<uint32_t> mask(n);
  std::vector<int64_t> spiking(n);
  scalar_t* __restrict ring = ring_v.data();
  scalar_t* __restrict acc = acc_v.data();
  scalar_t* __restrict lam_u = lam_u_v.data();
  const bool refractory = refr > 1;
  std::vector<int32_t> recent(refractory ? n * W : 0, 0);  // [j][W] spikes in the window
  if (refractory) {
    for (int64_t w = 0; w < lanes; ++w) {
      for (int64_t s = std::max<int64_t>(steps - refr, 0); s < steps - 1; ++s) {
        const scalar_t* zr = z + ((b0 + w) * steps + s) * n;
        for (int64_t j = 0; j < n; ++j) recent[j * W + w] += zr[j] != scalar_t(0);
      }
    }
  }
  for (int64_t t = steps - 1; t >= 0; --t) {
    const int64_t now = t % slots;
    const int64_t prev = now == 0 ? slots - 1 : now - 1;
    std::fill(acc, acc + n * W, scalar_t(0));
    std::fill(mask.begin(), mask.end(), 0u);
    for (int64_t w = 0; w < lanes; ++w) {
      const int64_t row = ((b0 + w) * steps + t) * n;
      for (int64_t j = 0; j < n; ++j) {
        acc[j * W + w] = grad_z[row + j];
        if (z[row + j] != scalar_t(0)) mask[j] |= uint32_t(1) << w;
      }
    }
    int64_t n_spiking = 0;
    for (int64_t j = 0; j < n; ++j) {
      if (mask[j] != 0u) spiking[n_spiking++] = j;
    }
    // G[t, j] = dL/dz + sum_i w_ij sum_k c_ij(k) lam_I[t + k, i]   (dense: the surrogate
    // gradient reaches every neuron), and the weight/delay gradients at spiking (t, j, b).
    for (int64_t i = 0; i < n; ++i) {
      const scalar_t* __restrict col = ring + i * slots * W;
      const int64_t e0 = i * n;
      const int32_t* ka = tab.k_a + e0;
      const scalar_t* ca = tab.c_a + e0;
      if (interp) {
        const scalar_t* cb = tab.c_b + e0;
        for (int64_t j = 0; j < n; ++j) {
          const int64_t s = wrap(now + ka[j], slots);
          const scalar_t* __restrict p0 = col + s * W;
          const scalar_t* __restrict p1 = col + wrap(s + 1, slots) * W;
          const scalar_t c0 = ca[j], c1 = cb[j];
          scalar_t* __restrict a = acc + j * W;
          SSNN_PRAGMA(omp simd)
          for (int w = 0; w < W; ++w) a[w] += c0 * p0[w] + c1 * p1[w];
        }
      } else {
        for (int64_t j = 0; j < n; ++j) {
          const scalar_t* __restrict p = col + wrap(now + ka[j], slots) * W;
          const scalar_t c0 = ca[j];
          scalar_t* __restrict a = acc + j * W;
          SSNN_PRAGMA(omp simd)
          for (int w = 0; w < W; ++w) a[w] += c0 * p[w];
        }
      }
      for (int64_t q = 0; q < n_spiking; ++q) {
        const int64_t j = spiking[q];
        const int64_t e = e0 + j;
        const int64_t s0 = wrap(now + tab.k_0[e], slots);
        const scalar_t* p0 = col + s0 * W;
        const scalar_t* p1 = col + wrap(s0 + 1, slots) * W;
        const scalar_t* pr = col + wrap(now + tab.k_a[e], slots) * W;
        const scalar_t f = tab.frac[e];
        scalar_t gw = scalar_t(0), gd = scalar_t(0);
        for (uint32_t m = mask[j]; m != 0u; m &= m - 1u) {
          const int w = __builtin_ctz(m);
          gw += interp ? p0[w] * (scalar_t(1) - f) + p1[w] * f : pr[w];
          gd += p1[w] - p0[w];
        }
        gw_c[e] += gw;
        gd_c[e] += gd;
      }
    }
    // lam_u[t] = lam_V[t] (1 - z) + G * surrogate'(u - theta), lam_V[t] = alpha*lam_u[t+1];
    // then lam_I[t-1] = beta*lam_I[t] + gamma*lam_u[t].
    if (refractory) {  // the same, with lam_u[t] = 0 at refractory steps
      for (int64_t w = 0; w < lanes; ++w) {
        const int64_t row = ((b0 + w) * steps + t) * n;
        // the window moves to [t-R, t-2]: z[t-R] enters, z[t-1] leaves
        const scalar_t* z_in = t >= refr ? z + row - refr * n : nullptr;
        const scalar_t* z_out = t > 0 ? z + row - n : nullptr;
        for (int64_t j = 0; j < n; ++j) {
          const int64_t h = row + j;
          scalar_t* col = ring + j * slots * W;
          int32_t& rc = recent[j * W + w];
          const scalar_t lu =
              rc > 0 ? scalar_t(0)
                     : alpha * lam_u[j * W + w] * (scalar_t(1) - z[h]) +
                           acc[j * W + w] * superspike(u[h] - threshold, slope);
          if (z_in != nullptr) rc += z_in[j] != scalar_t(0);
          if (z_out != nullptr) rc -= z_out[j] != scalar_t(0);
          lam_u[j * W + w] = lu;
          const scalar_t li = col[now * W + w];
          g_drive[h] = li;
          col[prev * W + w] = t > 0 ? beta * li + gamma * lu : scalar_t(0);
        }
      }
      continue;
    }
    for (int64_t w = 0; w < lanes; ++w) {
      const int64_t row = ((b0 + w) * steps + t) * n;
      for (int64_t j = 0; j < n; ++j) {
        const int64_t h = row + j;
        scalar_t* col = ring + j * slots * W;
        const scalar_t lu = alpha * lam_u[j * W + w] * (scalar_t(1) - z[h]) +
                            acc[j * W + w] * superspike(u[h] - threshold, slope);
        lam_u[j * W + w] = lu;
        const scalar_t li = col[now * W + w];
        g_drive[h] = li;
        col[prev * W + w] = t > 0 ? beta * li + gamma * lu : scalar_t(0);
      }
    }
  }
}

// Lane count per chunk, from the batch size alone (so that results do not depend on the
// number of threads): 16 for batches of 32 and more, 8 from 8, else 4.
inline int chunk_width(int64_t batch) { return batch >= 32 ? 16 : (batch >= 8 ? 8 : 4); }

template <typename scalar_t>
void lif_backward(const scalar_t* grad_z, const scalar_t* z, const scalar_t* u, scalar_t* g_drive,
                  scalar_t* g_w, scalar_t* g_d, const DelayTable<scalar_t>& tab, int64_t batch,
                  int64_t steps, int64_t n, int64_t kmax, scalar_t alpha, scalar_t beta,
                  scalar_t gamma, scalar_t threshold, scalar_t slope, int32_t refr,
                  bool interp) {
  const int width = chunk_width(batch);
  const int64_t chunks = (batch + width - 1) / width;
  std::vector<scalar_t> gw_c(chunks * n * n, scalar_t(0)), gd_c(chunks * n * n, scalar_t(0));
  const int threads = team(chunks, chunks * steps * n * n);
  SSNN_PRAGMA(omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1))
  for (int64_t c = 0; c < chunks; ++c) {
    scalar_t* gw = gw_c.data() + c * n * n;
    scalar_t* gd = gd_c.data() + c * n * n;
    const int64_t b0 = c * width;
    if (width == 16) {
      lif_backward_chunk<scalar_t, 16>(grad_z, z, u, g_drive, gw, gd, tab, batch, steps, n,
                                       kmax, b0, alpha, beta, gamma, threshold, slope, refr,
                                       interp);
    } else if (width == 8) {
      lif_backward_chunk<scalar_t, 8>(grad_z, z, u, g_drive, gw, gd, tab, batch, steps, n,
                                      kmax, b0, alpha, beta, gamma, threshold, slope, refr,
                                      interp);
    } else {
      lif_backward_chunk<scalar_t, 4>(grad_z, z, u, g_drive, gw, gd, tab, batch, steps, n,
                                      kmax, b0, alpha, beta, gamma, threshold, slope, refr,
                                      interp);
    }
  }
  for (int64_t e = 0; e < n * n; ++e) {
    scalar_t gw = scalar_t(0), gd = scalar_t(0);
    for (int64_t c = 0; c < chunks; ++c) {
      gw += gw_c[c * n * n + e];
      gd += gd_c[c * n * n + e];
    }
    g_w[e] = gw;
    g_d[e] = tab.w[e] * gd;
  }
}

// ------------------------------------------------------------------------------ delayed_linear

// Non-zeros of x[b] (flat index s*n_pre + j, ascending) and their values, per batch element.
template <typename scalar_t>
struct SparseRows {
  std::vector<std::vector<int64_t>> idx;
  std::vector<std::vector<scalar_t>> val;

  SparseRows(const scalar_t* x, int64_t batch, int64_t row) : idx(batch), val(batch) {
    const int threads = team(batch, batch * row);
    SSNN_PRAGMA(omp parallel for schedule(static) num_threads(threads) if (threads > 1))
    for (int64_t b = 0; b < batch; ++b) {
      const scalar_t* xb = x + b * row;
      for (int64_t q = 0; q < row; ++q) {
        if (xb[q] != scalar_t(0)) {
          idx[b].push_back(q);
          val[b].push_back(xb[q]);
        }
      }
    }
  }
};

constexpr int64_t kPostBlock = 16;

template <typename scalar_t>
void linear_forward(const scalar_t* x, scalar_t* y, const DelayTable<scalar_t>& tab,
                    int64_t batch, int64_t steps, int64_t n_pre, int64_t n_post, int64_t kmax,
                    bool interp) {
  const SparseRows<scalar_t> rows(x, batch, steps * n_pre);
  const int64_t blocks = (n_post + kPostBlock - 1) / kPostBlock;
  const int64_t padded = steps + kmax + 2;  // arrivals past the end land in the padding
  int64_t nnz = 0;
  for (const auto& r : rows.idx) nnz += static_cast<int64_t>(r.size());
  const int threads = team(batch * blocks, nnz * n_post + batch * steps * n_post);
  SSNN_PRAGMA(omp parallel num_threads(threads) if (threads > 1))
  {
    std::vector<scalar_t> col(kPostBlock * padded);
    SSNN_PRAGMA(omp for collapse(2) schedule(dynamic, 1))
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t blk = 0; blk < blocks; ++blk) {
        const int64_t i0 = blk * kPostBlock;
        const int64_t width = std::min(kPostBlock, n_post - i0);
        std::fill(col.begin(), col.end(), scalar_t(0));
        const auto& idx = rows.idx[b];
        const auto& val = rows.val[b];
        for (size_t q = 0; q < idx.size(); ++q) {
          const int64_t s = idx[q] / n_pre;
          const int64_t e0 = (idx[q] - s * n_pre) * n_post + i0;
          const scalar_t xv = val[q];
          for (int64_t ii = 0; ii < width; ++ii) {
            scalar_t* c = col.data() + ii * padded + s + tab.k_a[e0 + ii];
            c[0] += tab.c_a[e0 + ii] * xv;
            if (interp) c[1] += tab.c_b[e0 + ii] * xv;
          }
        }
        for (int64_t t = 0; t < steps; ++t) {
          scalar_t* yr = y + (b * steps + t) * n_post + i0;
          for (int64_t ii = 0; ii < width; ++ii) yr[ii] = col[ii * padded + t];
        }
      }
    }
  }
}

// grad_t: [B][n_post][steps + kmax + 2], zero past the end.
template <typename scalar_t>
void linear_grad_input(const scalar_t* grad_t, scalar_t* g_x, const DelayTable<scalar_t>& tab,
                       int64_t batch, int64_t steps, int64_t n_pre, int64_t n_post,
                       int64_t kmax, bool interp) {
  const int64_t padded = steps + kmax + 2;
  const int threads = team(batch * n_pre, batch * n_pre * n_post * steps);
  SSNN_PRAGMA(omp parallel num_threads(threads) if (threads > 1))
  {
    std::vector<scalar_t> row_v(steps);
    scalar_t* __restrict row = row_v.data();
    SSNN_PRAGMA(omp for collapse(2) schedule(static))
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t j = 0; j < n_pre; ++j) {
        std::fill(row, row + steps, scalar_t(0));
        for (int64_t i = 0; i < n_post; ++i) {
          const int64_t e = j * n_post + i;
          const scalar_t* __restrict g = grad_t + (b * n_post + i) * padded + tab.k_a[e];
          const scalar_t ca = tab.c_a[e];
          if (interp) {
            const scalar_t cb = tab.c_b[e];
            SSNN_PRAGMA(omp simd)
            for (int64_t s = 0; s < steps; ++s) row[s] += ca * g[s] + cb * g[s + 1];
          } else {
            SSNN_PRAGMA(omp simd)
            for (int64_t s = 0; s < steps; ++s) row[s] += ca * g[s];
          }
        }
        for (int64_t s = 0; s < steps; ++s) g_x[(b * steps + s) * n_pre + j] = row[s];
      }
    }
  }
}

template <typename scalar_t>
void linear_grad_params(const scalar_t* grad_t, const scalar_t* x, scalar_t* g_w, scalar_t* g_d,
                        const DelayTable<scalar_t>& tab, int64_t batch, int64_t steps,
                        int64_t n_pre, int64_t n_post, int64_t kmax, bool interp) {
  const SparseRows<scalar_t> rows(x, batch, steps * n_pre);
  const int64_t padded = steps + kmax + 2;
  std::vector<scalar_t> gw_t(n_pre * n_post, scalar_t(0)), gd_t(n_pre * n_post, scalar_t(0));
  const int64_t blocks = (n_post + kPostBlock - 1) / kPostBlock;
  int64_t nnz = 0;
  for (const auto& r : rows.idx) nnz += static_cast<int64_t>(r.size());
  const int threads = team(blocks, nnz * n_post);
  SSNN_PRAGMA(omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1))
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t i0 = blk * kPostBlock;
    const int64_t width = std::min(kPostBlock, n_post - i0);
    for (int64_t b = 0; b < batch; ++b) {
      const scalar_t* g0 = grad_t + (b * n_post + i0) * padded;
      const auto& idx = rows.idx[b];
      const auto& val = rows.val[b];
      for (size_t q = 0; q < idx.size(); ++q) {
        const int64_t s = idx[q] / n_pre;
        const int64_t e0 = (idx[q] - s * n_pre) * n_post + i0;
        const scalar_t xv = val[q];
        for (int64_t ii = 0; ii < width; ++ii) {
          const int64_t e = e0 + ii;
          const scalar_t* g = g0 + ii * padded + s;
          const scalar_t a0 = g[tab.k_0[e]];
          const scalar_t a1 = g[tab.k_0[e] + 1];
          if (interp) {
            const scalar_t f = tab.frac[e];
            gw_t[e] += xv * (a0 * (scalar_t(1) - f) + a1 * f);
          } else {
            gw_t[e] += xv * g[tab.k_a[e]];
          }
          gd_t[e] += xv * (a1 - a0);
        }
      }
    }
  }
  for (int64_t i = 0; i < n_post; ++i) {
    for (int64_t j = 0; j < n_pre; ++j) {
      g_w[i * n_pre + j] = gw_t[j * n_post + i];
      g_d[i * n_pre + j] = tab.w[j * n_post + i] * gd_t[j * n_post + i];
    }
  }
}

// ------------------------------------------------------------------------------ torch entry points

HostExec host() { return HostExec{num_threads()}; }

std::vector<at::Tensor> lif_forward_op(const at::Tensor& drive, const at::Tensor& weight,
                                       const at::Tensor& delay, double alpha, double beta,
                                       double gamma, double threshold, const std::string& mode,
                                       int64_t kmax, int64_t refractory) {
  check_projection(drive, weight, delay, kmax);
  TORCH_CHECK(drive.device().is_cpu(), "spatialsnn: the CPU kernel needs CPU tensors");
  TORCH_CHECK(weight.size(0) == weight.size(1), "spatialsnn: recurrent weight must be square");
  const bool interp = parse_mode(mode);
  const int32_t hold = std::max(refractory_steps(refractory, drive.size(1)) - 1, 0);
  auto z = at::empty_like(drive);
  auto u = at::empty_like(drive);
  if (drive.numel() == 0) return {z, u};
  HostExec ex = host();
  AT_DISPATCH_FLOATING_TYPES(drive.scalar_type(), "spatialsnn_cpu_lif_forward", [&] {
    auto table = build_table<HostExec, scalar_t>(ex, weight, delay, kmax, interp);
    lif_forward<scalar_t>(drive.data_ptr<scalar_t>(), z.data_ptr<scalar_t>(),
                          u.data_ptr<scalar_t>(), table.view(), drive.size(0), drive.size(1),
                          drive.size(2), kmax, static_cast<scalar_t>(alpha),
                          static_cast<scalar_t>(beta), static_cast<scalar_t>(gamma),
                          static_cast<scalar_t>(threshold), hold, interp);
  });
  return {z, u};
}

std::vector<at::Tensor> lif_backward_op(const at::Tensor& grad_z, const at::Tensor& z,
                                        const at::Tensor& u, const at::Tensor& weight,
                                        const at::Tensor& delay, double alpha, double beta,
                                        double gamma, double threshold, double slope,
                                        const std::string& mode, int64_t kmax,
                                        int64_t refractory) {
  check_projection(u, weight, delay, kmax);
  TORCH_CHECK(u.device().is_cpu(), "spatialsnn: the CPU kernel needs CPU tensors");
  const int32_t refr = refractory_steps(refractory, u.size(1));
  check_same(u, grad_z, "grad");
  check_same(u, z, "spikes");
  TORCH_CHECK(grad_z.sizes() == u.sizes() && z.sizes() == u.sizes(),
              "spatialsnn: grad, spikes and membrane must have one shape");
  const bool interp = parse_mode(mode);
  auto g_drive = at::empty_like(u);
  auto g_w = at::zeros_like(weight);
  auto g_d = at::zeros_like(delay);
  if (u.numel() == 0) return {g_drive, g_w, g_d};
  HostExec ex = host();
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "spatialsnn_cpu_lif_backward", [&] {
    auto table = build_table<HostExec, scalar_t>(ex, weight, delay, kmax, interp,
                                                 /*post_major=*/true);
    lif_backward<scalar_t>(grad_z.data_ptr<scalar_t>(), z.data_ptr<scalar_t>(),
                           u.data_ptr<scalar_t>(), g_drive.data_ptr<scalar_t>(),
                           g_w.data_ptr<scalar_t>(), g_d.data_ptr<scalar_t>(), table.view(),
                           u.size(0), u.size(1), u.size(2), kmax, static_cast<scalar_t>(alpha),
                           static_cast<scalar_t>(beta), static_cast<scalar_t>(gamma),
                           static_cast<scalar_t>(threshold), static_cast<scalar_t>(slope),
                           refr, interp);
  });
  return {g_drive, g_w, g_d};
}

at::Tensor linear_forward_op(const at::Tensor& x, const at::Tensor& weight,
                             const at::Tensor& delay, const std::string& mode, int64_t kmax) {
  check_projection(x, weight, delay, kmax);
  TORCH_CHECK(x.device().is_cpu(), "spatialsnn: the CPU kernel needs CPU tensors");
  const bool interp = parse_mode(mode);
  auto y = at::empty({x.size(0), x.size(1), weight.size(0)}, x.options());
  if (y.numel() == 0) return y;
  HostExec ex = host();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "spatialsnn_cpu_linear_forward", [&] {
    auto table = build_table<HostExec, scalar_t>(ex, weight, delay, kmax, interp);
    linear_forward<scalar_t>(x.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(), table.view(),
                             x.size(0), x.size(1), x.size(2), weight.size(0), kmax, interp);
  });
  return y;
}

// grad [B][T][n_post] -> [B][n_post][T + kmax + 2], zero past the end.
at::Tensor padded_transpose(const at::Tensor& grad, int64_t kmax) {
  auto out = at::zeros({grad.size(0), grad.size(2), grad.size(1) + kmax + 2}, grad.options());
  out.narrow(2, 0, grad.size(1)).copy_(grad.transpose(1, 2));
  return out;
}

at::Tensor linear_grad_input_op(const at::Tensor& grad, const at::Tensor& weight,
                                const at::Tensor& delay, const std::string& mode,
                                int64_t kmax) {
  check_projection(grad, weight, delay, kmax, /*side=*/0);
  TORCH_CHECK(grad.device().is_cpu(), "spatialsnn: the CPU kernel needs CPU tensors");
  const bool interp = parse_mode(mode);
  auto g_x = at::zeros({grad.size(0), grad.size(1), weight.size(1)}, grad.options());
  if (g_x.numel() == 0 || weight.size(0) == 0) return g_x;
  auto grad_t = padded_transpose(grad, kmax);
  HostExec ex = host();
  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "spatialsnn_cpu_linear_grad_input", [&] {
    auto table = build_table<HostExec, scalar_t>(ex, weight, delay, kmax, interp);
    linear_grad_input<scalar_t>(grad_t.data_ptr<scalar_t>(), g_x.data_ptr<scalar_t>(),
                                table.view(), grad.size(0), grad.size(1), weight.size(1),
                                weight.size(0), kmax, interp);
  });
  return g_x;
}

std::vector<at::Tensor> linear_grad_params_op(const at::Tensor& grad, const at::Tensor& x,
                                              const at::Tensor& weight, const at::Tensor& delay,
                                              const std::string& mode, int64_t kmax) {
  check_projection(x, weight, delay, kmax);
  check_projection(grad, weight, delay, kmax, /*side=*/0);
  TORCH_CHECK(x.device().is_cpu(), "spatialsnn: the CPU kernel needs CPU tensors");
  TORCH_CHECK(grad.size(0) == x.size(0) && grad.size(1) == x.size(1),
              "spatialsnn: grad must be [batch, time, n_post]");
  const bool interp = parse_mode(mode);
  auto g_w = at::zeros_like(weight);
  auto g_d = at::zeros_like(delay);
  if (x.numel() == 0 || weight.numel() == 0) return {g_w, g_d};
  auto grad_t = padded_transpose(grad, kmax);
  HostExec ex = host();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "spatialsnn_cpu_linear_grad_params", [&] {
    auto table = build_table<HostExec, scalar_t>(ex, weight, delay, kmax, interp);
    linear_grad_params<scalar_t>(grad_t.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(),
                                 g_w.data_ptr<scalar_t>(), g_d.data_ptr<scalar_t>(),
                                 table.view(), x.size(0), x.size(1), x.size(2), weight.size(0),
                                 kmax, interp);
  });
  return {g_w, g_d};
}

// ------------------------------------------------------------------------------ emulation

std::vector<at::Tensor> emu_lif_forward(const at::Tensor& drive, const at::Tensor& weight,
                                        const at::Tensor& delay, double alpha, double beta,
                                        double gamma, double threshold, const std::string& mode,
                                        int64_t kmax, int64_t refractory) {
  return lif_forward_impl(host(), drive, weight, delay, alpha, beta, gamma, threshold, mode,
                          kmax, refractory);
}

std::vector<at::Tensor> emu_lif_backward(const at::Tensor& grad_z, const at::Tensor& z,
                                         const at::Tensor& u, const at::Tensor& weight,
                                         const at::Tensor& delay, double alpha, double beta,
                                         double gamma, double threshold, double slope,
                                         const std::string& mode, int64_t kmax,
                                         int64_t refractory) {
  return lif_backward_impl(host(), grad_z, z, u, weight, delay, alpha, beta, gamma, threshold,
                           slope, mode, kmax, refractory);
}

at::Tensor emu_linear_forward(const at::Tensor& x, const at::Tensor& weight,
                              const at::Tensor& delay, const std::string& mode, int64_t kmax) {
  return linear_forward_impl(host(), x, weight, delay, mode, kmax);
}

at::Tensor emu_linear_grad_input(const at::Tensor& grad, const at::Tensor& weight,
                                 const at::Tensor& delay, const std::string& mode,
                                 int64_t kmax) {
  return linear_grad_input_impl(host(), grad, weight, delay, mode, kmax);
}

std::vector<at::Tensor> emu_linear_grad_params(const at::Tensor& grad, const at::Tensor& x,
                                               const at::Tensor& weight,
                                               const at::Tensor& delay, const std::string& mode,
                                               int64_t kmax) {
  return linear_grad_params_impl(host(), grad, x, weight, delay, mode, kmax);
}

}  // namespace cpu
}  // namespace ssnn

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  using namespace ssnn::cpu;
  m.doc() = "spatialsnn delay kernels: CPU (C++/OpenMP) and a host emulation of the CUDA path";
  m.def("lif_forward", &lif_forward_op, "recurrent LIF forward -> [z, u]");
  m.def("lif_backward", &lif_backward_op, "recurrent LIF backward -> [g_drive, g_w, g_d]");
  m.def("linear_forward", &linear_forward_op, "delayed_linear forward -> y");
  m.def("linear_grad_input", &linear_grad_input_op, "delayed_linear input gradient");
  m.def("linear_grad_params", &linear_grad_params_op, "delayed_linear [g_w, g_d]");
#if defined(_OPENMP)
  m.attr("openmp") = true;
#else
  m.attr("openmp") = false;
#endif
  auto emu = m.def_submodule("emu", "the CUDA backend's kernels executed on the host");
  emu.def("lif_forward", &emu_lif_forward);
  emu.def("lif_backward", &emu_lif_backward);
  emu.def("linear_forward", &emu_linear_forward);
  emu.def("linear_grad_input", &emu_linear_grad_input);
  emu.def("linear_grad_params", &emu_linear_grad_params);
}

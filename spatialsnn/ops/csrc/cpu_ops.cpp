// CPU backend of spatialsnn's delay operators (C++ / OpenMP), and a host emulation of the
// CUDA backend (the kernels of delay_kernels.cuh run by HostExec), used by the tests.
//
// Semantics are those of spatialsnn/ops/_reference.py; see docs/kernels.md for the design.
// The kernels live in headers named after what they compute:
//   cpu_lif.h            recurrent LIF forward (spikes scattered into a ring of arrivals)
//   cpu_lif_backward.h   its exact backward (batch lanes as the SIMD dimension)
//   cpu_spike_linear.h   the event-driven input projection (spike_linear)
//   cpu_common.h         the thread-team rule, SIMD vectors, aligned buffers
// This file holds delayed_linear's kernels and the torch entry points. Results do not depend
// on the number of threads.
#include <torch/extension.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "cpu_common.h"
#include "cpu_lif.h"
#include "cpu_lif_backward.h"
#include "cpu_spike_linear.h"
#include "delay_ops.h"

namespace ssnn {
namespace cpu {

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
    const int64_t reach = table_reach(table.view(), weight.numel(), interp);
    lif_forward<scalar_t>(drive.data_ptr<scalar_t>(), z.data_ptr<scalar_t>(),
                          u.data_ptr<scalar_t>(), table.view(), drive.size(0), drive.size(1),
                          drive.size(2), reach, static_cast<scalar_t>(alpha),
                          static_cast<scalar_t>(beta), static_cast<scalar_t>(gamma),
                          static_cast<scalar_t>(threshold), hold, interp);
  });
  return {z, u};
}

// SPATIALSNN_CPU_BACKWARD_ORDER: unset, empty or "auto" lets the kernel choose; "neuron" or
// "column" forces an order of the backward's dense sum (same results, other speed).
inline Order backward_order() {
  const char* env = std::getenv("SPATIALSNN_CPU_BACKWARD_ORDER");
  const std::string v = env == nullptr ? "" : env;
  if (v.empty() || v == "auto") return Order::kAuto;
  if (v == "neuron") return Order::kNeuron;
  if (v == "column") return Order::kColumn;
  TORCH_CHECK(false, "spatialsnn: SPATIALSNN_CPU_BACKWARD_ORDER='", v,
              "' is not an order; choose auto, neuron or column");
  return Order::kAuto;
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
  const Order order = backward_order();
  auto g_drive = at::empty_like(u);
  auto g_w = at::zeros_like(weight);
  auto g_d = at::zeros_like(delay);
  if (u.numel() == 0) return {g_drive, g_w, g_d};
  HostExec ex = host();
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "spatialsnn_cpu_lif_backward", [&] {
    const int64_t reach =
        delay_reach(delay.data_ptr<scalar_t>(), delay.numel(), static_cast<int32_t>(kmax));
    TORCH_CHECK(ring_fits_int32(u.size(2), pow2_at_least(reach + 2)),
                "spatialsnn: the CPU backward's adjoint ring (", u.size(2), " neurons x ",
                reach + 2, " steps x 64 lanes) exceeds 2^31 entries");
    const BackwardPlan plan = plan_backward(u.size(0), u.size(1), u.size(2), reach,
                                            sizeof(scalar_t), order);
    auto table = build_table<HostExec, scalar_t>(ex, weight, delay, kmax, interp, plan.by_column);
    lif_backward<scalar_t>(grad_z.data_ptr<scalar_t>(), z.data_ptr<scalar_t>(),
                           u.data_ptr<scalar_t>(), g_drive.data_ptr<scalar_t>(),
                           g_w.data_ptr<scalar_t>(), g_d.data_ptr<scalar_t>(), table.view(), plan,
                           u.size(0), u.size(1), u.size(2), reach, static_cast<scalar_t>(alpha),
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

at::Tensor spike_linear_forward_op(const at::Tensor& x, const at::Tensor& weight) {
  check_spike_linear(x, weight);
  TORCH_CHECK(x.device().is_cpu(), "spatialsnn: the CPU kernel needs CPU tensors");
  const int64_t rows = x.size(0) * x.size(1), n_in = x.size(2), n_out = weight.size(0);
  auto y = at::empty({x.size(0), x.size(1), n_out}, weight.options());
  if (y.numel() == 0) return y;
  auto wt = weight.t().contiguous();
  AT_DISPATCH_FLOATING_TYPES(weight.scalar_type(), "spatialsnn_cpu_spike_linear", [&] {
    if (x.scalar_type() == at::kByte) {
      spike_linear_forward<scalar_t, uint8_t>(x.data_ptr<uint8_t>(), wt.data_ptr<scalar_t>(),
                                              y.data_ptr<scalar_t>(), rows, n_in, n_out);
    } else {
      spike_linear_forward<scalar_t, scalar_t>(x.data_ptr<scalar_t>(), wt.data_ptr<scalar_t>(),
                                               y.data_ptr<scalar_t>(), rows, n_in, n_out);
    }
  });
  return y;
}

at::Tensor spike_linear_grad_weight_op(const at::Tensor& grad, const at::Tensor& x) {
  TORCH_CHECK(grad.dim() == 3 && x.dim() == 3 && grad.size(0) == x.size(0) &&
                  grad.size(1) == x.size(1),
              "spatialsnn: grad must be [batch, time, n_out] for an input of shape ", x.sizes());
  const int64_t rows = x.size(0) * x.size(1), n_in = x.size(2), n_out = grad.size(2);
  auto gw = at::empty({n_out, n_in}, grad.options());
  check_spike_linear(x, gw);
  TORCH_CHECK(x.device().is_cpu() && grad.device().is_cpu(),
              "spatialsnn: the CPU kernel needs CPU tensors");
  TORCH_CHECK(grad.is_contiguous(), "spatialsnn: grad must be contiguous");
  if (gw.numel() == 0) return gw;
  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "spatialsnn_cpu_spike_linear_grad", [&] {
    if (x.scalar_type() == at::kByte) {
      spike_linear_grad_weight<scalar_t, uint8_t>(grad.data_ptr<scalar_t>(),
                                                  x.data_ptr<uint8_t>(), gw.data_ptr<scalar_t>(),
                                                  rows, n_in, n_out);
    } else {
      spike_linear_grad_weight<scalar_t, scalar_t>(grad.data_ptr<scalar_t>(),
                                                   x.data_ptr<scalar_t>(),
                                                   gw.data_ptr<scalar_t>(), rows, n_in, n_out);
    }
  });
  return gw;
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

at::Tensor emu_spike_linear_forward(const at::Tensor& x, const at::Tensor& weight) {
  return spike_linear_forward_impl(host(), x, weight);
}

at::Tensor emu_spike_linear_grad_weight(const at::Tensor& grad, const at::Tensor& x) {
  return spike_linear_grad_weight_impl(host(), grad, x);
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
  m.def("spike_linear_forward", &spike_linear_forward_op, "spike_linear forward -> y");
  m.def("spike_linear_grad_weight", &spike_linear_grad_weight_op, "spike_linear weight gradient");
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
  emu.def("spike_linear_forward", &emu_spike_linear_forward);
  emu.def("spike_linear_grad_weight", &emu_spike_linear_grad_weight);
}

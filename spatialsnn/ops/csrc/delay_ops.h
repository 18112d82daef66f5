// Torch glue around delay_kernels.cuh: argument checks, buffer allocation, spike lists.
//
// Templated on the executor, so that the CUDA binding (cuda_ops.cu, CudaExec) and the host
// emulation of it in the CPU extension (cpu_ops.cpp, HostExec) run the same code; the CPU
// tests therefore exercise everything of the CUDA path except the launches themselves.
#pragma once

#include <torch/extension.h>

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "delay_kernels.cuh"

namespace ssnn {

inline bool parse_mode(const std::string& mode) {
  TORCH_CHECK(mode == "round" || mode == "interpolate",
              "spatialsnn: delay mode must be 'round' or 'interpolate', got '", mode, "'");
  return mode == "interpolate";
}

inline void check_same(const at::Tensor& ref, const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.device() == ref.device(), "spatialsnn: ", name, " is on ", t.device(),
              " but the input is on ", ref.device());
  TORCH_CHECK(t.scalar_type() == ref.scalar_type(), "spatialsnn: ", name, " has dtype ",
              t.scalar_type(), " but the input has ", ref.scalar_type());
  TORCH_CHECK(t.is_contiguous(), "spatialsnn: ", name, " must be contiguous");
}

// x: [batch, time, n] with n = n_pre (side 1) or n_post (side 0) of weight [n_post, n_pre].
inline void check_projection(const at::Tensor& x, const at::Tensor& weight,
                             const at::Tensor& delay, int64_t kmax, int side = 1) {
  TORCH_CHECK(x.dim() == 3, "spatialsnn: input must be [batch, time, n], got ", x.sizes());
  TORCH_CHECK(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble,
              "spatialsnn kernels support float32 and float64, got ", x.scalar_type());
  TORCH_CHECK(x.is_contiguous(), "spatialsnn: input must be contiguous");
  TORCH_CHECK(weight.dim() == 2 && weight.size(side) == x.size(2),
              "spatialsnn: weight of shape ", weight.sizes(), " does not fit an input of shape ",
              x.sizes());
  TORCH_CHECK(delay.sizes() == weight.sizes(), "spatialsnn: delay must have the weight's shape");
  check_same(x, weight, "weight");
  check_same(x, delay, "delay");
  TORCH_CHECK(kmax >= 0 && kmax < (int64_t(1) << 30), "spatialsnn: kmax out of range: ", kmax);
}

// Owns the delay table's buffers for the duration of one call.
template <typename scalar_t>
struct TableBuffers {
  at::Tensor k_a, k_0, c_a, c_b, frac, w;

  DelayTable<scalar_t> view() {
    return DelayTable<scalar_t>{k_a.data_ptr<int32_t>(), k_0.data_ptr<int32_t>(),
                                c_a.data_ptr<scalar_t>(), c_b.data_ptr<scalar_t>(),
                                frac.data_ptr<scalar_t>(), w.data_ptr<scalar_t>()};
  }
};

template <class Exec, typename scalar_t>
TableBuffers<scalar_t> build_table(Exec& ex, const at::Tensor& weight, const at::Tensor& delay,
                                   int64_t kmax, bool interp, bool post_major = false) {
  const int64_t n_post = weight.size(0), n_pre = weight.size(1);
  auto fopt = weight.options();
  auto iopt = weight.options().dtype(at::kInt);
  TableBuffers<scalar_t> buf{at::empty({n_pre, n_post}, iopt), at::empty({n_pre, n_post}, iopt),
                             at::empty({n_pre, n_post}, fopt), at::empty({n_pre, n_post}, fopt),
                             at::empty({n_pre, n_post}, fopt), at::empty({n_pre, n_post}, fopt)};
  PrepareTable<scalar_t> prep{buf.view(),
                              weight.data_ptr<scalar_t>(),
                              delay.data_ptr<scalar_t>(),
                              n_post,
                              n_pre,
                              static_cast<int32_t>(kmax),
                              interp,
                              post_major};
  prepare_table(ex, prep);
  return buf;
}

// Sorted flat indices of the non-zeros of `t` (any layout made contiguous by the caller),
// and the offsets of the `groups` equal blocks of `group_size` elements in that index list.
inline std::tuple<at::Tensor, at::Tensor> nonzero_groups(const at::Tensor& t, int64_t groups,
                                                         int64_t group_size) {
  auto flat = t.reshape({-1}).nonzero().reshape({-1});
  auto bounds = at::arange(groups + 1, flat.options()) * group_size;
  auto offsets = at::searchsorted(flat, bounds);
  return {flat.contiguous(), offsets.contiguous()};
}

// The refractory period in steps, checked and clamped to [0, steps]: a period of T steps
// or more already keeps a neuron silent for the rest of a sequence of T steps.
inline int32_t refractory_steps(int64_t refractory, int64_t steps) {
  TORCH_CHECK(refractory >= 0, "spatialsnn: refractory must be >= 0 steps, got ", refractory);
  return static_cast<int32_t>(std::min<int64_t>(refractory, std::max<int64_t>(steps, 0)));
}

template <class Exec>
void finish(const Exec& ex, const char* what) {
  const char* msg = ex.error_message();
  TORCH_CHECK(msg == nullptr, "spatialsnn: launching the ", what, " kernels failed: ",
              msg ? msg : "");
}

// ------------------------------------------------------------------------------ recurrent

template <class Exec>
std::vector<at::Tensor> lif_forward_impl(Exec ex, const at::Tensor& drive,
                                         const at::Tensor& weight, const at::Tensor& delay,
                                         double alpha, double beta, double gamma,
                                         double threshold, const std::string& mode,
                                         int64_t kmax, int64_t refractory) {
  check_projection(drive, weight, delay, kmax);
  TORCH_CHECK(weight.size(0) == weight.size(1), "spatialsnn: recurrent weight must be square");
  const bool interp = parse_mode(mode);
  const int64_t batch = drive.size(0), steps = drive.size(1), n = drive.size(2);
  const int32_t hold = std::max(refractory_steps(refractory, steps) - 1, 0);
  auto z = at::empty_like(drive);
  auto u = at::empty_like(drive);
  if (drive.numel() == 0) return {z, u};
  const int64_t slots = kmax + 2;
  const int64_t words = (n + 31) / 32;
  auto v = at::zeros({batch, n}, drive.options());
  auto cur = at::zeros({batch, n}, drive.options());
  auto ring = at::zeros({slots, batch, n, interp ? 2 : 1}, drive.options());
  auto bits = at::zeros({steps, batch, words}, drive.options().dtype(at::kInt));
  at::Tensor left;  // refractory steps left per (b, i), only with a refractory period
  if (hold > 0) left = at::zeros({batch, n}, drive.options().dtype(at::kInt));
  AT_DISPATCH_FLOATING_TYPES(drive.scalar_type(), "spatialsnn_lif_forward", [&] {
    auto table = build_table<Exec, scalar_t>(ex, weight, delay, kmax, interp);
    LifForwardArgs<scalar_t> a{drive.data_ptr<scalar_t>(),
                               z.data_ptr<scalar_t>(),
                               u.data_ptr<scalar_t>(),
                               v.data_ptr<scalar_t>(),
                               cur.data_ptr<scalar_t>(),
                               ring.data_ptr<scalar_t>(),
                               reinterpret_cast<uint32_t*>(bits.data_ptr<int32_t>()),
                               hold > 0 ? left.data_ptr<int32_t>() : nullptr,
                               table.view(),
                               batch,
                               steps,
                               n,
                               words,
                               slots,
                               static_cast<scalar_t>(alpha),
                               static_cast<scalar_t>(beta),
                               static_cast<scalar_t>(gamma),
                               static_cast<scalar_t>(threshold),
                               hold,
                               interp};
    lif_forward(ex, a);
    finish(ex, "lif_recurrent forward");
  });
  return {z, u};
}

template <class Exec>
std::vector<at::Tensor> lif_backward_impl(Exec ex, const at::Tensor& grad_z,
                                          const at::Tensor& z, const at::Tensor& u,
                                          const at::Tensor& weight, const at::Tensor& delay,
                                          double alpha, double beta, double gamma,
                                          double threshold, double slope,
                                          const std::string& mode, int64_t kmax,
                                          int64_t refractory) {
  check_projection(u, weight, delay, kmax);
  check_same(u, grad_z, "grad");
  check_same(u, z, "spikes");
  TORCH_CHECK(grad_z.sizes() == u.sizes() && z.sizes() == u.sizes(),
              "spatialsnn: grad, spikes and membrane must have one shape");
  const bool interp = parse_mode(mode);
  const int64_t batch = u.size(0), steps = u.size(1), n = u.size(2);
  const int32_t refr = refractory_steps(refractory, steps);
  auto g_drive = at::empty_like(u);
  auto g_w = at::zeros_like(weight);
  auto g_d = at::zeros_like(delay);
  if (u.numel() == 0) return {g_drive, g_w, g_d};
  // lam[t] for t < T-1 is written (by step t+1) before it is read: only lam[T-1 ..] (no
  // future beyond the sequence) needs zeros, not the whole [T + kmax + 2][N][B] buffer
  auto lam = at::empty({steps + kmax + 2, n, batch}, u.options());
  lam.narrow(0, steps - 1, kmax + 3).zero_();
  auto lam_u = at::zeros({n, batch}, u.options());
  at::Tensor recent;  // spikes in the refractory window per (j, b), only with a period
  if (refr > 1) recent = at::zeros({n, batch}, u.options().dtype(at::kInt));
  // Spikes of each presynaptic neuron j as (t, b), from the layout [N][T][B].
  at::Tensor spk, spk_off;
  std::tie(spk, spk_off) =
      nonzero_groups(z.ne(0).permute({2, 1, 0}).contiguous(), n, steps * batch);
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "spatialsnn_lif_backward", [&] {
    auto table = build_table<Exec, scalar_t>(ex, weight, delay, kmax, interp);
    LifBackwardArgs<scalar_t> a{grad_z.data_ptr<scalar_t>(),
                                z.data_ptr<scalar_t>(),
                                u.data_ptr<scalar_t>(),
                                g_drive.data_ptr<scalar_t>(),
                                lam.data_ptr<scalar_t>(),
                                lam_u.data_ptr<scalar_t>(),
                                g_w.data_ptr<scalar_t>(),
                                g_d.data_ptr<scalar_t>(),
                                spk.data_ptr<int64_t>(),
                                spk_off.data_ptr<int64_t>(),
                                refr > 1 ? recent.data_ptr<int32_t>() : nullptr,
                                table.view(),
                                batch,
                                steps,
                                n,
                                static_cast<scalar_t>(alpha),
                                static_cast<scalar_t>(beta),
                                static_cast<scalar_t>(gamma),
                                static_cast<scalar_t>(threshold),
                                static_cast<scalar_t>(slope),
                                refr,
                                interp};
    lif_backward(ex, a);
    finish(ex, "lif_recurrent backward");
  });
  return {g_drive, g_w, g_d};
}

// ------------------------------------------------------------------------------ delayed_linear

template <typename scalar_t>
LinearArgs<scalar_t> linear_args(const at::Tensor& weight, int64_t batch, int64_t steps,
                                 DelayTable<scalar_t> tab, bool interp) {
  LinearArgs<scalar_t> a{};
  a.tab = tab;
  a.batch = batch;
  a.steps = steps;
  a.n_post = weight.size(0);
  a.n_pre = weight.size(1);
  a.interp = interp;
  return a;
}

template <class Exec>
at::Tensor linear_forward_impl(Exec ex, const at::Tensor& x, const at::Tensor& weight,
                               const at::Tensor& delay, const std::string& mode, int64_t kmax) {
  check_projection(x, weight, delay, kmax);
  const bool interp = parse_mode(mode);
  const int64_t batch = x.size(0), steps = x.size(1), n_pre = x.size(2);
  auto y = at::zeros({batch, steps, weight.size(0)}, x.options());
  if (y.numel() == 0 || n_pre == 0) return y;
  at::Tensor nz, nz_off;
  std::tie(nz, nz_off) = nonzero_groups(x, batch, steps * n_pre);
  auto nz_val = x.reshape({-1}).index_select(0, nz);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "spatialsnn_linear_forward", [&] {
    auto table = build_table<Exec, scalar_t>(ex, weight, delay, kmax, interp);
    auto a = linear_args<scalar_t>(weight, batch, steps, table.view(), interp);
    a.y = y.data_ptr<scalar_t>();
    a.nz = nz.data_ptr<int64_t>();
    a.nz_val = nz_val.data_ptr<scalar_t>();
    a.nz_off = nz_off.data_ptr<int64_t>();
    linear_forward(ex, a);
    finish(ex, "delayed_linear forward");
  });
  return y;
}

template <class Exec>
at::Tensor linear_grad_input_impl(Exec ex, const at::Tensor& grad, const at::Tensor& weight,
                                  const at::Tensor& delay, const std::string& mode,
                                  int64_t kmax) {
  check_projection(grad, weight, delay, kmax, /*side=*/0);  // grad is [B, T, n_post]
  const bool interp = parse_mode(mode);
  const int64_t batch = grad.size(0), steps = grad.size(1), n_post = grad.size(2);
  const int64_t n_pre = weight.size(1);
  auto g_x = at::zeros({batch, steps, n_pre}, grad.options());
  if (g_x.numel() == 0 || n_post == 0) return g_x;
  auto grad_t = at::zeros({steps + kmax + 2, n_post, batch}, grad.options());
  grad_t.narrow(0, 0, steps).copy_(grad.permute({1, 2, 0}));
  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "spatialsnn_linear_grad_input", [&] {
    auto table = build_table<Exec, scalar_t>(ex, weight, delay, kmax, interp);
    auto a = linear_args<scalar_t>(weight, batch, steps, table.view(), interp);
    a.grad_t = grad_t.data_ptr<scalar_t>();
    a.g_x = g_x.data_ptr<scalar_t>();
    linear_grad_input(ex, a);
    finish(ex, "delayed_linear input-gradient");
  });
  return g_x;
}

template <class Exec>
std::vector<at::Tensor> linear_grad_params_impl(Exec ex, const at::Tensor& grad,
                                                const at::Tensor& x, const at::Tensor& weight,
                                                const at::Tensor& delay,
                                                const std::string& mode, int64_t kmax) {
  check_projection(x, weight, delay, kmax);
  check_same(x, grad, "grad");
  const bool interp = parse_mode(mode);
  const int64_t batch = x.size(0), steps = x.size(1), n_pre = x.size(2);
  TORCH_CHECK(grad.dim() == 3 && grad.size(0) == batch && grad.size(1) == steps &&
                  grad.size(2) == weight.size(0),
              "spatialsnn: grad must be [batch, time, n_post]");
  auto g_w = at::zeros_like(weight);
  auto g_d = at::zeros_like(delay);
  if (x.numel() == 0 || weight.numel() == 0) return {g_w, g_d};
  auto xj = x.permute({2, 0, 1}).contiguous();  // [n_pre][B][T]
  at::Tensor nzj, nzj_off;
  std::tie(nzj, nzj_off) = nonzero_groups(xj, n_pre, batch * steps);
  auto nzj_val = xj.reshape({-1}).index_select(0, nzj);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "spatialsnn_linear_grad_params", [&] {
    auto table = build_table<Exec, scalar_t>(ex, weight, delay, kmax, interp);
    auto a = linear_args<scalar_t>(weight, batch, steps, table.view(), interp);
    a.grad = grad.data_ptr<scalar_t>();
    a.nzj = nzj.data_ptr<int64_t>();
    a.nzj_val = nzj_val.data_ptr<scalar_t>();
    a.nzj_off = nzj_off.data_ptr<int64_t>();
    a.g_w = g_w.data_ptr<scalar_t>();
    a.g_d = g_d.data_ptr<scalar_t>();
    linear_grad_params(ex, a);
    finish(ex, "delayed_linear parameter-gradient");
  });
  return {g_w, g_d};
}

// ------------------------------------------------------------------------------ spike_linear

// x: [batch, time, n_in], uint8 counts or the weight's dtype; weight: [n_out, n_in].
inline void check_spike_linear(const at::Tensor& x, const at::Tensor& weight) {
  TORCH_CHECK(x.dim() == 3, "spatialsnn: input must be [batch, time, n_in], got ", x.sizes());
  TORCH_CHECK(weight.dim() == 2 && weight.size(1) == x.size(2), "spatialsnn: weight of shape ",
              weight.sizes(), " does not fit an input of shape ", x.sizes());
  TORCH_CHECK(weight.scalar_type() == at::kFloat || weight.scalar_type() == at::kDouble,
              "spatialsnn kernels support float32 and float64 weights, got ",
              weight.scalar_type());
  TORCH_CHECK(x.scalar_type() == at::kByte || x.scalar_type() == weight.scalar_type(),
              "spatialsnn: spike_linear input must be uint8 or of the weight's dtype ",
              weight.scalar_type(), ", got ", x.scalar_type());
  TORCH_CHECK(x.device() == weight.device(), "spatialsnn: weight is on ", weight.device(),
              " but the input is on ", x.device());
  TORCH_CHECK(x.is_contiguous() && weight.is_contiguous(),
              "spatialsnn: input and weight must be contiguous");
}

// The non-zeros of x2 [rows][n] (row-major order): (row, column, value in `dtype`).
inline std::tuple<at::Tensor, at::Tensor, at::Tensor> nonzeros_of(const at::Tensor& x2,
                                                                  at::ScalarType dtype) {
  auto nz = x2.ne(0).nonzero();
  auto r = nz.select(1, 0).contiguous();
  auto c = nz.select(1, 1).contiguous();
  auto val = x2.index({r, c}).to(dtype).contiguous();
  return {r, c, val};
}

// Offsets of the `groups` runs of equal values 0 .. groups-1 in the sorted index list `key`.
inline at::Tensor run_offsets(const at::Tensor& key, int64_t groups) {
  return at::searchsorted(key, at::arange(groups + 1, key.options())).contiguous();
}

template <class Exec>
at::Tensor spike_linear_forward_impl(Exec ex, const at::Tensor& x, const at::Tensor& weight) {
  check_spike_linear(x, weight);
  const int64_t rows = x.size(0) * x.size(1), n_in = x.size(2), n_out = weight.size(0);
  auto y = at::empty({x.size(0), x.size(1), n_out}, weight.options());
  if (y.numel() == 0) return y;
  at::Tensor r, c, val;
  std::tie(r, c, val) = nonzeros_of(x.reshape({rows, n_in}), weight.scalar_type());
  auto ptr = run_offsets(r, rows);
  auto wt = weight.t().contiguous();
  AT_DISPATCH_FLOATING_TYPES(weight.scalar_type(), "spatialsnn_spike_linear_forward", [&] {
    SpikeLinearArgs<scalar_t> a{ptr.data_ptr<int64_t>(), c.data_ptr<int64_t>(),
                                val.data_ptr<scalar_t>(), wt.data_ptr<scalar_t>(), nullptr,
                                y.data_ptr<scalar_t>(), rows, n_in, n_out};
    spike_linear_forward(ex, a);
    finish(ex, "spike_linear forward");
  });
  return y;
}

template <class Exec>
at::Tensor spike_linear_grad_weight_impl(Exec ex, const at::Tensor& grad, const at::Tensor& x) {
  TORCH_CHECK(grad.dim() == 3 && x.dim() == 3 && grad.size(0) == x.size(0) &&
                  grad.size(1) == x.size(1),
              "spatialsnn: grad must be [batch, time, n_out] for an input of shape ", x.sizes());
  const int64_t rows = x.size(0) * x.size(1), n_in = x.size(2), n_out = grad.size(2);
  auto gw = at::zeros({n_out, n_in}, grad.options());
  check_spike_linear(x, gw);
  TORCH_CHECK(grad.is_contiguous(), "spatialsnn: grad must be contiguous");
  if (gw.numel() == 0 || rows == 0) return gw;
  at::Tensor r, c, val;
  std::tie(r, c, val) = nonzeros_of(x.reshape({rows, n_in}), grad.scalar_type());
  auto order = at::argsort(c, /*stable=*/true, 0, /*descending=*/false);
  auto col_row = r.index_select(0, order).contiguous();
  auto col_val = val.index_select(0, order).contiguous();
  auto ptr = run_offsets(c.index_select(0, order), n_in);
  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "spatialsnn_spike_linear_grad_weight", [&] {
    SpikeLinearArgs<scalar_t> a{ptr.data_ptr<int64_t>(), col_row.data_ptr<int64_t>(),
                                col_val.data_ptr<scalar_t>(), nullptr, grad.data_ptr<scalar_t>(),
                                gw.data_ptr<scalar_t>(), rows, n_in, n_out};
    spike_linear_grad_weight(ex, a);
    finish(ex, "spike_linear weight-gradient");
  });
  return gw;
}

}  // namespace ssnn

// CPU kernels of spike_linear: y = x @ weight^T for sparse spike counts x, event-driven.
//
// Included by cpu_ops.cpp. The cost is proportional to the number of non-zero inputs times n_out, plus one scan of x
// that skips 32 zero bytes at a time. x may be uint8 counts (the data sets' storage) or of
// the weight's floating type; values are converted to the weight's type as they are read.
// Results do not depend on the number of threads: every output row is summed in ascending
// input order, and the weight gradient is summed over a fixed number of row ranges that
// are added in a fixed order.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cpu_common.h"

namespace ssnn {
namespace cpu {

// Calls f(j, x[j]) for every non-zero x[j] of a row of n values, in ascending j. Blocks of
// 32 bytes that are all zero bits are skipped with one test (-0.0 is zero, NaN is not).
template <typename in_t, class F>
inline void for_each_nonzero(const in_t* xr, int64_t n, F&& f) {
  constexpr int64_t kBlock = 32 / int64_t(sizeof(in_t));
  int64_t j = 0;
  for (; j + kBlock <= n; j += kBlock) {
    uint64_t w[4];
    std::memcpy(w, xr + j, 32);
    if ((w[0] | w[1] | w[2] | w[3]) == 0u) continue;
    for (int64_t q = j; q < j + kBlock; ++q) {
      if (xr[q] != in_t(0)) f(q, xr[q]);
    }
  }
  for (; j < n; ++j) {
    if (xr[j] != in_t(0)) f(j, xr[j]);
  }
}

// y[r, :] = sum over non-zero x[r, j] of x[r, j] * wt[j, :]; wt = weight^T, [n_in][n_out].
template <typename scalar_t, typename in_t>
void spike_linear_forward(const in_t* x, const scalar_t* wt, scalar_t* y, int64_t rows,
                          int64_t n_in, int64_t n_out) {
  const int threads = team(rows, rows * n_in);
  SSNN_PRAGMA(omp parallel for schedule(static) num_threads(threads) if (threads > 1))
  for (int64_t r = 0; r < rows; ++r) {
    scalar_t* __restrict yr = y + r * n_out;
    std::fill(yr, yr + n_out, scalar_t(0));
    for_each_nonzero(x + r * n_in, n_in, [&](int64_t j, in_t v) {
      const scalar_t xv = static_cast<scalar_t>(v);
      const scalar_t* __restrict wr = wt + j * n_out;
      SSNN_PRAGMA(omp simd)
      for (int64_t i = 0; i < n_out; ++i) yr[i] += xv * wr[i];
    });
  }
}

// Number of row ranges whose weight-gradient partial sums are added in a fixed order.
constexpr int64_t kSpikeLinearParts = 16;

// gw[i, j] = sum over rows r with x[r, j] != 0 of x[r, j] * grad[r, i]; gw is [n_out][n_in].
template <typename scalar_t, typename in_t>
void spike_linear_grad_weight(const scalar_t* grad, const in_t* x, scalar_t* gw, int64_t rows,
                              int64_t n_in, int64_t n_out) {
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(kSpikeLinearParts, rows));
  const int64_t block = n_in * n_out;
  std::vector<scalar_t> acc(parts * block, scalar_t(0));  // [part][j][i]
  const int threads = team(parts, rows * n_in);
  SSNN_PRAGMA(omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1))
  for (int64_t p = 0; p < parts; ++p) {
    scalar_t* a = acc.data() + p * block;
    const int64_t r1 = rows * (p + 1) / parts;
    for (int64_t r = rows * p / parts; r < r1; ++r) {
      const scalar_t* __restrict gr = grad + r * n_out;
      for_each_nonzero(x + r * n_in, n_in, [&](int64_t j, in_t v) {
        const scalar_t xv = static_cast<scalar_t>(v);
        scalar_t* __restrict aj = a + j * n_out;
        SSNN_PRAGMA(omp simd)
        for (int64_t i = 0; i < n_out; ++i) aj[i] += xv * gr[i];
      });
    }
  }
  const int reducers = team(n_in, parts * block);
  SSNN_PRAGMA(omp parallel for schedule(static) num_threads(reducers) if (reducers > 1))
  for (int64_t j = 0; j < n_in; ++j) {
    for (int64_t i = 0; i < n_out; ++i) {
      scalar_t s = scalar_t(0);
      for (int64_t p = 0; p < parts; ++p) s += acc[p * block + j * n_out + i];
      gw[i * n_in + j] = s;
    }
  }
}

}  // namespace cpu
}  // namespace ssnn

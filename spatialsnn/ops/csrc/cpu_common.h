// Shared pieces of the CPU kernels: the OpenMP pragma macro, the thread-team rule, 64-byte
// SIMD vectors and aligned scratch buffers.
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__AVX512F__) || defined(__FMA__)
#include <immintrin.h>
#endif

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

// The lanes of one pass as SIMD vectors: LaneVec<scalar_t, L>::type holds min(L, 64 bytes)
// of them (a GCC/Clang vector type, which the compiler maps to the target's registers; the
// element's alignment only, so that a dereference may be unaligned).
template <typename scalar_t, int L>
struct LaneVec {
  static constexpr int kWidth = L * int(sizeof(scalar_t)) < 64 ? L : 64 / int(sizeof(scalar_t));
  static constexpr int kCount = L / kWidth;  // vectors per L lanes
  typedef scalar_t type
      __attribute__((vector_size(kWidth * sizeof(scalar_t)), aligned(sizeof(scalar_t))));
};

// a * b + c, with one rounding where the CPU has FMA (AVX-512 or AVX2+FMA), else with two.
// For the backward pass only: the forward pass reproduces torch's two roundings.
template <typename scalar_t, typename V>
inline V fmadd(V a, V b, V c) {
  constexpr bool kFloat = sizeof(scalar_t) == 4;
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64) {
    if constexpr (kFloat) {
      return (V)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
    } else {
      return (V)_mm512_fmadd_pd((__m512d)a, (__m512d)b, (__m512d)c);
    }
  }
#endif
#if defined(__FMA__)
  if constexpr (sizeof(V) == 32) {
    if constexpr (kFloat) {
      return (V)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
    } else {
      return (V)_mm256_fmadd_pd((__m256d)a, (__m256d)b, (__m256d)c);
    }
  }
  if constexpr (sizeof(V) == 16) {
    if constexpr (kFloat) {
      return (V)_mm_fmadd_ps((__m128)a, (__m128)b, (__m128)c);
    } else {
      return (V)_mm_fmadd_pd((__m128d)a, (__m128d)b, (__m128d)c);
    }
  }
#endif
  return a * b + c;
}

// A zeroed scratch buffer of `count` values aligned to 64 bytes.
template <typename T>
class AlignedBuffer {
 public:
  explicit AlignedBuffer(size_t count) {
    const size_t bytes = std::max<size_t>(64, (count * sizeof(T) + 63) / 64 * 64);
    data_ = static_cast<T*>(std::aligned_alloc(64, bytes));
    if (data_ == nullptr) throw std::bad_alloc();
    std::memset(data_, 0, bytes);
  }
  ~AlignedBuffer() { std::free(data_); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  T* get() const { return data_; }

 private:
  T* data_;
};

}  // namespace cpu
}  // namespace ssnn

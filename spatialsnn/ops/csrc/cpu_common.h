// Shared pieces of the CPU kernels: the OpenMP pragma macro, the thread-team rule, 64-byte
// SIMD vectors and aligned scratch buffers.
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__AVX512F__)
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

// One 64-byte SIMD vector (16 floats, 8 doubles: one AVX-512 register, one cache line) as a
// GCC/Clang vector type, which the compiler maps to the widest vectors of the target.
// aligned(...) of the element only, so that a dereference may be unaligned.
typedef float vec16f __attribute__((vector_size(64), aligned(4)));
typedef double vec8d __attribute__((vector_size(64), aligned(8)));
template <typename scalar_t>
struct Vec;
template <>
struct Vec<float> {
  using type = vec16f;
};
template <>
struct Vec<double> {
  using type = vec8d;
};

// a * b + c, with one rounding where the CPU has AVX-512 (FMA), else with two. For the
// backward pass only: the forward pass reproduces torch's two roundings.
inline vec16f fmadd(vec16f a, vec16f b, vec16f c) {
#if defined(__AVX512F__)
  return (vec16f)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#else
  return a * b + c;
#endif
}
inline vec8d fmadd(vec8d a, vec8d b, vec8d c) {
#if defined(__AVX512F__)
  return (vec8d)_mm512_fmadd_pd((__m512d)a, (__m512d)b, (__m512d)c);
#else
  return a * b + c;
#endif
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

// Compile-only harness for the device code (no torch): instantiates every kernel driver of
// delay_kernels.cuh with the CUDA executor for float and double. tests/test_cuda_sources.py
// compiles it with `nvcc -c -arch=sm_90`, so a syntax or type error in a kernel fails CI
// on machines without a GPU.
#include "delay_kernels.cuh"

namespace ssnn {

#define SSNN_INSTANTIATE(T)                                                                  \
  template void prepare_table<CudaExec, T>(CudaExec&, const PrepareTable<T>&);               \
  template void lif_forward<CudaExec, T>(CudaExec&, const LifForwardArgs<T>&);               \
  template void lif_backward<CudaExec, T>(CudaExec&, const LifBackwardArgs<T>&);             \
  template void linear_forward<CudaExec, T>(CudaExec&, const LinearArgs<T>&);                \
  template void linear_grad_input<CudaExec, T>(CudaExec&, const LinearArgs<T>&);             \
  template void linear_grad_params<CudaExec, T>(CudaExec&, const LinearArgs<T>&);            \
  template void spike_linear_forward<CudaExec, T>(CudaExec&, const SpikeLinearArgs<T>&);     \
  template void spike_linear_grad_weight<CudaExec, T>(CudaExec&, const SpikeLinearArgs<T>&);

SSNN_INSTANTIATE(float)
SSNN_INSTANTIATE(double)

#undef SSNN_INSTANTIATE

}  // namespace ssnn

// CUDA backend of spatialsnn's delay operators: the torch binding of delay_kernels.cuh.
//
// The kernels run on the current CUDA stream of the input's device. Each output element is
// written by one thread in a fixed order (no floating-point atomics), so results are
// deterministic. Buffers are torch tensors from the caching allocator, which is
// stream-ordered: freeing them when a function returns is safe while kernels still run.
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>

#include "delay_ops.h"

namespace ssnn {
namespace gpu {

CudaExec exec_for(const at::Tensor& t) {
  TORCH_CHECK(t.is_cuda(), "spatialsnn: the CUDA kernel needs CUDA tensors, got ", t.device());
  int device = t.get_device();
  int sms = 0;
  C10_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  // Grid-stride loops: enough blocks to fill every SM several times over.
  return CudaExec{c10::cuda::getCurrentCUDAStream(device).stream(), std::max(1, sms) * 32};
}

std::vector<at::Tensor> lif_forward(const at::Tensor& drive, const at::Tensor& weight,
                                    const at::Tensor& delay, double alpha, double beta,
                                    double gamma, double threshold, const std::string& mode,
                                    int64_t kmax, int64_t refractory) {
  const c10::cuda::CUDAGuard guard(drive.device());
  return lif_forward_impl(exec_for(drive), drive, weight, delay, alpha, beta, gamma, threshold,
                          mode, kmax, refractory);
}

std::vector<at::Tensor> lif_backward(const at::Tensor& grad_z, const at::Tensor& z,
                                     const at::Tensor& u, const at::Tensor& weight,
                                     const at::Tensor& delay, double alpha, double beta,
                                     double gamma, double threshold, double slope,
                                     const std::string& mode, int64_t kmax,
                                     int64_t refractory) {
  const c10::cuda::CUDAGuard guard(u.device());
  return lif_backward_impl(exec_for(u), grad_z, z, u, weight, delay, alpha, beta, gamma,
                           threshold, slope, mode, kmax, refractory);
}

at::Tensor linear_forward(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& delay,
                          const std::string& mode, int64_t kmax) {
  const c10::cuda::CUDAGuard guard(x.device());
  return linear_forward_impl(exec_for(x), x, weight, delay, mode, kmax);
}

at::Tensor linear_grad_input(const at::Tensor& grad, const at::Tensor& weight,
                             const at::Tensor& delay, const std::string& mode, int64_t kmax) {
  const c10::cuda::CUDAGuard guard(grad.device());
  return linear_grad_input_impl(exec_for(grad), grad, weight, delay, mode, kmax);
}

std::vector<at::Tensor> linear_grad_params(const at::Tensor& grad, const at::Tensor& x,
                                           const at::Tensor& weight, const at::Tensor& delay,
                                           const std::string& mode, int64_t kmax) {
  const c10::cuda::CUDAGuard guard(x.device());
  return linear_grad_params_impl(exec_for(x), grad, x, weight, delay, mode, kmax);
}

at::Tensor spike_linear_forward(const at::Tensor& x, const at::Tensor& weight) {
  const c10::cuda::CUDAGuard guard(x.device());
  return spike_linear_forward_impl(exec_for(x), x, weight);
}

at::Tensor spike_linear_grad_weight(const at::Tensor& grad, const at::Tensor& x) {
  const c10::cuda::CUDAGuard guard(x.device());
  return spike_linear_grad_weight_impl(exec_for(x), grad, x);
}

}  // namespace gpu
}  // namespace ssnn

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  using namespace ssnn::gpu;
  m.doc() = "spatialsnn delay kernels: CUDA";
  m.def("lif_forward", &lif_forward, "recurrent LIF forward -> [z, u]");
  m.def("lif_backward", &lif_backward, "recurrent LIF backward -> [g_drive, g_w, g_d]");
  m.def("linear_forward", &linear_forward, "delayed_linear forward -> y");
  m.def("linear_grad_input", &linear_grad_input, "delayed_linear input gradient");
  m.def("linear_grad_params", &linear_grad_params, "delayed_linear [g_w, g_d]");
  m.def("spike_linear_forward", &spike_linear_forward, "spike_linear forward -> y");
  m.def("spike_linear_grad_weight", &spike_linear_grad_weight, "spike_linear weight gradient");
}

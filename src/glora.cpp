// The compiled part of glora: the kernels' float and double instances, for
// both storage orders of W0, and Dense's products. Programs built against this library (with
// GLORA_COMPILED_LIB defined, as the glora::glora target does when CMake's
// GLORA_COMPILED is ON) declare these and compile none of them.
#ifndef GLORA_COMPILED_LIB
#error "glora's compiled library: define GLORA_COMPILED_LIB (CMake: GLORA_COMPILED=ON)"
#endif

#include <glora/dense.hpp>
#include <glora/detail/kernels.hpp>

#define GLORA_KERNELS_INSTANTIATE(T, Layout)                                                    \
  template void grouped_forward_kernel<T, Layout>(const FrozenView<T>&, const GroupedBatch<T>&, \
                                                  const ConstMatrixRef<T>&, MatrixRef<T>,       \
                                                  Workspace<T>&);                               \
  template void backward_kernel<T, Layout>(                                                     \
      const FrozenView<T>&, const AdapterView<const T>&, const ConstMatrixRef<T>&,              \
      const ConstMatrixRef<T>&, AdapterView<T>, bool, MatrixRef<T>, BackwardWorkspace<T>&);     \
  template void merge_kernel<T, Layout>(const FrozenView<T>&, const AdapterView<const T>&,      \
                                        const MergeTarget<T>&, VectorRef<T>);

// Dense's products (dense.hpp).
#define GLORA_DENSE_INSTANTIATE(T)                                                             \
  template void weight_product_add<T, Eigen::ColMajor>(const OrderedMap<T, Eigen::ColMajor>&,  \
                                                       const ConstMatrixRef<T>&, MatrixRef<T>, \
                                                       std::vector<ThreadScratch<T>>&);        \
  template void dense_backward<T>(const ConstMatrixRef<T>&, const ConstMatrixRef<T>&,          \
                                  const ConstMatrixRef<T>&, MatrixRef<T>, VectorRef<T>,        \
                                  MatrixRef<T>);

namespace glora::detail {
GLORA_DENSE_INSTANTIATE(float)
GLORA_DENSE_INSTANTIATE(double)
GLORA_KERNELS_INSTANTIATE(float, Eigen::ColMajor)
GLORA_KERNELS_INSTANTIATE(float, Eigen::RowMajor)
GLORA_KERNELS_INSTANTIATE(double, Eigen::ColMajor)
GLORA_KERNELS_INSTANTIATE(double, Eigen::RowMajor)
}  // namespace glora::detail

#pragma once
// The entry points of the arithmetic: the unmerged forward, the backward and
// the merge, one function template each on the scalar type, whatever the
// layer's kinds (they arrive as run-time views).
//
// The forward and the merge walk W0 in tiles of its own storage order, so
// they are templates on that order too. A layer reaches them through a
// Kernels table picked when it is built, where the order is known at compile
// time: a program instantiates them only for the orders it builds layers
// with. The backward reads W0 in both orders (W0 and W0ᵀ) whatever W0's is,
// and takes the order as a run-time value: it is instantiated once per scalar
// type, and only by a program that calls it.
//
// In the compiled mode (the CMake option GLORA_COMPILED, which defines
// GLORA_COMPILED_LIB for the library and its users) the float and double
// instances are compiled once, into the glora library, and user code only
// declares them.

#include <glora/detail/backward.hpp>
#include <glora/detail/forward.hpp>
#include <glora/detail/merge.hpp>

#include <Eigen/Core>

namespace glora::detail {

/// The kernels for one scalar type and one storage order of W0.
template <typename T>
struct Kernels {
  decltype(&forward_kernel<T, Eigen::ColMajor>) forward;
  decltype(&grouped_forward_kernel<T, Eigen::ColMajor>) grouped_forward;
  decltype(&merge_kernel<T, Eigen::ColMajor>) merge;
};

template <typename T, int Layout>
inline constexpr Kernels<T> kernels_for = {
    &forward_kernel<T, Layout>, &grouped_forward_kernel<T, Layout>, &merge_kernel<T, Layout>};

}  // namespace glora::detail

#ifdef GLORA_COMPILED_LIB
// The kernels' instances: declared here with `extern template`, so that a
// program compiles none of them; defined with `template` in src/glora.cpp.
#define GLORA_KERNELS_INSTANCES(declare, T, Layout)                                            \
  declare void grouped_forward_kernel<T, Layout>(const FrozenView<T>&, const GroupedBatch<T>&, \
                                                 const ConstMatrixRef<T>&, MatrixRef<T>,       \
                                                 Workspace<T>&);                               \
  declare void merge_kernel<T, Layout>(const FrozenView<T>&, const AdapterView<const T>&,      \
                                       const MergeTarget<T>&, VectorRef<T>);
#define GLORA_BACKWARD_INSTANCES(declare, T)                                          \
  declare void backward_kernel<T>(const FrozenView<T>&, const AdapterView<const T>&,  \
                                  const ConstMatrixRef<T>&, const ConstMatrixRef<T>&, \
                                  AdapterView<T>, bool, MatrixRef<T>, BackwardWorkspace<T>&);

namespace glora::detail {
GLORA_KERNELS_INSTANCES(extern template, float, Eigen::ColMajor)
GLORA_KERNELS_INSTANCES(extern template, float, Eigen::RowMajor)
GLORA_KERNELS_INSTANCES(extern template, double, Eigen::ColMajor)
GLORA_KERNELS_INSTANCES(extern template, double, Eigen::RowMajor)
GLORA_BACKWARD_INSTANCES(extern template, float)
GLORA_BACKWARD_INSTANCES(extern template, double)
}  // namespace glora::detail
#endif

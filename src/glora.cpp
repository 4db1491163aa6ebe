// The compiled part of glora: the kernels' float and double instances (the
// forward and the merge for both storage orders of W0, the backward once per
// scalar type), and Dense's products. Programs built against this library
// (with GLORA_COMPILED_LIB defined, as the glora::glora target does when
// CMake's GLORA_COMPILED is ON) declare these and compile none of them.
#ifndef GLORA_COMPILED_LIB
#error "glora's compiled library: define GLORA_COMPILED_LIB (CMake: GLORA_COMPILED=ON)"
#endif

#include <glora/dense.hpp>
#include <glora/detail/kernels.hpp>

// The instances that dense.hpp and detail/kernels.hpp declare extern.
namespace glora::detail {
GLORA_DENSE_INSTANCES(template, float)
GLORA_DENSE_INSTANCES(template, double)
GLORA_KERNELS_INSTANCES(template, float, Eigen::ColMajor)
GLORA_KERNELS_INSTANCES(template, float, Eigen::RowMajor)
GLORA_KERNELS_INSTANCES(template, double, Eigen::ColMajor)
GLORA_KERNELS_INSTANCES(template, double, Eigen::RowMajor)
GLORA_BACKWARD_INSTANCES(template, float)
GLORA_BACKWARD_INSTANCES(template, double)
}  // namespace glora::detail

#pragma once
// The matrix arguments of the functions the compiled mode builds once.

#include <glora/support.hpp>

#include <Eigen/Core>

namespace glora::detail {

/// The kernels' matrix arguments: Eigen::Ref with its stride spelled out.
/// Ref's default stride is a dependent expression that clang 14 mangles in
/// two ways depending on what a translation unit instantiated first; the
/// compiled mode links the kernels by name, so their signatures avoid it.
template <typename T>
using ConstMatrixRef = Eigen::Ref<const MatrixX<T>, 0, Eigen::OuterStride<>>;
template <typename T>
using MatrixRef = Eigen::Ref<MatrixX<T>, 0, Eigen::OuterStride<>>;
template <typename T>
using VectorRef = Eigen::Ref<VectorX<T>, 0, Eigen::InnerStride<1>>;

}  // namespace glora::detail

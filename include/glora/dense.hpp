#pragma once
// Dense<T>: a plain y = W x + b layer, what a GLoRA layer becomes once merged.

#include <glora/errors.hpp>
#include <glora/support.hpp>

#include <Eigen/Core>

#include <utility>

namespace glora {

/// A dense layer y = weight · x + bias. weight is out x in, bias has out
/// entries; samples are the columns of X (in x N) and Y (out x N).
template <typename T>
struct Dense {
  MatrixX<T> weight;
  VectorX<T> bias;

  Dense() = default;
  /// Throws shape_error unless bias has weight.rows() entries.
  Dense(MatrixX<T> w, VectorX<T> b) : weight(std::move(w)), bias(std::move(b)) {
    detail::check_shape("glora::Dense", "bias", bias, weight.rows(), 1);
  }

  Eigen::Index in_features() const { return weight.cols(); }
  Eigen::Index out_features() const { return weight.rows(); }

  /// Y = weight · X + bias, X in x N; returns out x N.
  MatrixX<T> forward(const Eigen::Ref<const MatrixX<T>>& X) const {
    MatrixX<T> Y(out_features(), X.cols());
    forward(X, Y);
    return Y;
  }

  /// Writes weight · X + bias into Y, which must already be out x N.
  void forward(const Eigen::Ref<const MatrixX<T>>& X, Eigen::Ref<MatrixX<T>> Y) const {
    detail::check_shape("glora::Dense::forward", "bias", bias, out_features(), 1);
    detail::check_rows("glora::Dense::forward", "X", X, in_features());
    detail::check_shape("glora::Dense::forward", "Y", Y, out_features(), X.cols());
    Y.noalias() = weight * X;
    Y.colwise() += bias;
  }
};

}  // namespace glora

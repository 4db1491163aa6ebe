// Finite-difference checks of backward(): every entry of every support
// tensor, and of the input, is nudged both ways and the change of the loss
// L = sum(R ⊙ Y) is compared with the analytic gradient that backward()
// returns for dY = R.
//
// Each single entry of a support tensor or of X enters Y linearly (the layer
// only multiplies distinct tensors together), so the central difference has
// no truncation error: the step only trades against rounding.
#ifndef GLORA_TESTS_GRADIENT_CHECKS_HPP
#define GLORA_TESTS_GRADIENT_CHECKS_HPP

#include <glora/glora.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace glora_test {

using MatrixXd = glora::MatrixX<double>;
using VectorXd = glora::VectorX<double>;

constexpr double fd_step = 1e-3;
constexpr double fd_tolerance = 1e-6;

inline MatrixXd uniform_matrix(std::mt19937& rng, Eigen::Index rows, Eigen::Index cols) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  return MatrixXd::NullaryExpr(rows, cols, [&] { return u(rng); });
}

/// Fills every tensor of a parameter set (adapter or Dense) with U(-1, 1).
template <class Params>
void randomize(Params& params, std::mt19937& rng) {
  glora::for_each_tensor(
      [&](const char*, glora::Role, auto t) { t = uniform_matrix(rng, t.rows(), t.cols()); },
      params);
}

/// max |analytic - numeric| / max(|analytic|, |numeric|), 0 when both vanish.
inline double relative_error(const MatrixXd& analytic, const MatrixXd& numeric) {
  const double scale = std::max(analytic.cwiseAbs().maxCoeff(), numeric.cwiseAbs().maxCoeff());
  const double diff = (analytic - numeric).cwiseAbs().maxCoeff();
  return scale == 0.0 ? diff : diff / scale;
}

template <class Layer>
double loss(const Layer& layer, const MatrixXd& X, const MatrixXd& R) {
  return (layer.forward(X).array() * R.array()).sum();
}

/// The central difference of `loss_of()` w.r.t. each entry of `t`, which the
/// loss must read (t is a view into the layer, or the input itself). Neither
/// argument depends on the layer's type, so the search space's hundreds of
/// configurations share this code.
inline MatrixXd central_difference(Eigen::Ref<MatrixXd> t, const std::function<double()>& loss_of) {
  MatrixXd numeric(t.rows(), t.cols());
  for (Eigen::Index j = 0; j < t.cols(); ++j) {
    for (Eigen::Index i = 0; i < t.rows(); ++i) {
      const double saved = t(i, j);
      t(i, j) = saved + fd_step;
      const double up = loss_of();
      t(i, j) = saved - fd_step;
      const double down = loss_of();
      t(i, j) = saved;
      numeric(i, j) = (up - down) / (2 * fd_step);
    }
  }
  return numeric;
}

/// Checks one analytic gradient against the central difference of `loss_of`
/// w.r.t. `t`; returns the relative error.
inline double check_gradient(const std::string& what, const Eigen::Ref<const MatrixXd>& analytic,
                             Eigen::Ref<MatrixXd> t, const std::function<double()>& loss_of) {
  const double error = relative_error(analytic, central_difference(t, loss_of));
  INFO(what << ": relative error " << error);
  CHECK(error < fd_tolerance);
  return error;
}

/// Checks backward() of a layer (Linear, LinearView or Dense, whatever its
/// tensors hold) at input X with dY = R against central differences, tensor
/// by tensor and for dX. Returns the largest relative error seen.
template <class Layer, class Params>
double check_backward(Layer& layer, Params& params, const MatrixXd& X, const MatrixXd& R) {
  Params grads = glora::zeros_like(params);
  const MatrixXd dX = layer.backward(X, R, grads);

  double worst = 0;
  const std::function<double()> loss_of = [&] { return loss(layer, X, R); };
  glora::for_each_tensor(
      [&](const char* name, glora::Role, auto t, auto g) {
        worst = std::max(worst, check_gradient(std::string("tensor ") + name, g, t, loss_of));
      },
      params, grads);

  MatrixXd X_nudged = X;
  const double error = check_gradient("dX", dX, X_nudged, [&] { return loss(layer, X_nudged, R); });
  return std::max(worst, error);
}

/// A Linear<double, KA..KE> of m x n with random W0 (and b0), random support
/// tensors, checked at a random batch of N inputs.
template <class KA, class KB, class KC, class KD, class KE>
double check_linear_backward(std::mt19937& rng, Eigen::Index m, Eigen::Index n, Eigen::Index N,
                             bool with_bias) {
  using Layer = glora::Linear<double, KA, KB, KC, KD, KE>;
  INFO(m << " x " << n << ", batch " << N << (with_bias ? ", with bias" : ", without bias"));
  MatrixXd W0 = uniform_matrix(rng, m, n);
  Layer layer = with_bias ? Layer(std::move(W0), uniform_matrix(rng, m, 1)) : Layer(std::move(W0));
  randomize(layer.adapter(), rng);
  const MatrixXd X = uniform_matrix(rng, n, N);
  const MatrixXd R = uniform_matrix(rng, m, N);
  return check_backward(layer, layer.adapter(), X, R);
}

/// check_linear_backward for every configuration of a list (a type list of
/// types with members KA..KE), with and without bias, on a 4 x 3 layer at
/// batch 2 and a 3 x 5 layer at batch 1. Returns the number of configurations.
template <template <class...> class List, class... Configs>
std::size_t check_configs_backward(List<Configs...>, std::mt19937& rng) {
  const auto check = [&rng](auto config) {
    using C = decltype(config);
    for (const bool with_bias : {true, false}) {
      check_linear_backward<typename C::KA, typename C::KB, typename C::KC, typename C::KD,
                            typename C::KE>(rng, 4, 3, 2, with_bias);
      check_linear_backward<typename C::KA, typename C::KB, typename C::KC, typename C::KD,
                            typename C::KE>(rng, 3, 5, 1, with_bias);
    }
  };
  (check(Configs{}), ...);
  return sizeof...(Configs);
}

}  // namespace glora_test

#endif  // GLORA_TESTS_GRADIENT_CHECKS_HPP

#pragma once
// The two losses that close most networks: mean squared error (regression)
// and softmax cross-entropy (classification). Each returns the loss, averaged
// as torch.nn.functional does by default, and writes its gradient with
// respect to the network's output: the dY that backward() takes.
//
// Samples are columns, as everywhere in glora: the output Y is out x N.
// Given storage for the gradient, a loss allocates nothing; the gradient may
// be the output's own storage (the output is read before it is overwritten).
// A loss reads and writes entry by entry, so every matrix is used in the
// storage order it has, row-major or column-major; storage is never copied
// (an expression, such as a product, is evaluated once).

#include <glora/detail/arguments.hpp>
#include <glora/errors.hpp>
#include <glora/support.hpp>

#include <Eigen/Core>

#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

namespace glora {

/// A loss and its gradient with respect to the network's output (the
/// output's shape, out x N).
template <typename T>
struct LossAndGradient {
  T loss;
  MatrixX<T> gradient;
};

namespace detail {

/// The type losses are summed in: double for float, so that the mean over a
/// large batch keeps the precision of its terms.
template <typename T>
using loss_sum_t = decltype(T() + double());

/// Throws shape_error unless `actual` is rows x cols, "the shape of <model>".
template <typename Derived>
void check_same_shape(const char* where, const char* what, const Eigen::EigenBase<Derived>& actual,
                      Eigen::Index rows, Eigen::Index cols, const char* model) {
  if (actual.rows() == rows && actual.cols() == cols) return;
  throw shape_error(std::string(where) + ": " + what + " is " +
                    shape_string(actual.rows(), actual.cols()) + ", expected " +
                    shape_string(rows, cols) + " (the shape of " + model + ")");
}

/// What a loss writes, its gradient: storage of T that can be written, in
/// either order. Checked at compile time, with a message that says what to
/// pass.
template <typename T, typename Gradient>
void require_loss_gradient() {
  using S = storage_traits<Gradient>;
  static_assert(S::matrix && S::direct && S::lvalue,
                "glora: a loss's gradient (dY, dlogits) must be writable storage (a matrix, Map, "
                "Ref or block of one), not a const matrix or an expression");
  static_assert(std::is_same_v<typename S::scalar, T>,
                "glora: a loss's gradient (dY, dlogits) must hold the scalar type of Y or logits");
}

/// A loss's input where it is when it has storage (either order); an
/// expression (a product, say) is evaluated once, as a plain matrix.
template <typename Derived>
decltype(auto) loss_operand(const Eigen::MatrixBase<Derived>& x) {
  if constexpr (storage_traits<Derived>::direct) {
    return x.derived();
  } else {
    return typename Derived::PlainObject(x);
  }
}

template <typename T, typename YD, typename TargetD, typename GradientD>
T mean_squared_error(const YD& Y, const TargetD& target, GradientD& dY) {
  constexpr const char* where = "glora::mean_squared_error";
  check_same_shape(where, "target", target, Y.rows(), Y.cols(), "Y");
  check_same_shape(where, "dY", dY, Y.rows(), Y.cols(), "Y");
  if (Y.size() == 0) {
    throw shape_error(std::string(where) + ": Y is " + shape_string(Y.rows(), Y.cols()) +
                      ", expected at least one entry (the loss is a mean over the entries)");
  }
  using Sum = loss_sum_t<T>;
  const Sum loss = (Y - target).template cast<Sum>().squaredNorm() / static_cast<Sum>(Y.size());
  dY = (Y - target) * (T(2) / static_cast<T>(Y.size()));  // after the loss: dY may be Y
  return static_cast<T>(loss);
}

template <typename T, typename LogitsD, typename GradientD>
T softmax_cross_entropy(const LogitsD& logits, const int* labels, Eigen::Index label_count,
                        GradientD& dlogits) {
  constexpr const char* where = "glora::softmax_cross_entropy";
  const Eigen::Index classes = logits.rows();
  const Eigen::Index batch = logits.cols();
  if (label_count != batch) {
    throw shape_error(std::string(where) + ": labels has " + std::to_string(label_count) +
                      " entries, expected " + std::to_string(batch) +
                      " (one per column of logits)");
  }
  check_same_shape(where, "dlogits", dlogits, classes, batch, "logits");
  if (batch == 0) {
    throw shape_error(std::string(where) + ": logits is " + shape_string(classes, batch) +
                      ", expected at least one column (the loss is a mean over the columns)");
  }
  for (Eigen::Index n = 0; n < batch; ++n) {
    const int label = labels[n];
    if (label < 0 || label >= classes) {
      throw shape_error(std::string(where) + ": labels[" + std::to_string(n) + "] is " +
                        std::to_string(label) + ", expected 0 <= label < " +
                        std::to_string(classes) + " (one row of logits per class)");
    }
  }

  using Sum = loss_sum_t<T>;
  Sum loss = 0;
  for (Eigen::Index n = 0; n < batch; ++n) {
    const Eigen::Index label = labels[n];
    auto p = dlogits.col(n);
    // Subtracting the column's largest logit keeps exp from overflowing:
    // log Σ exp(z) − z_label = log Σ exp(z − top) − (z_label − top).
    const T top = logits.col(n).maxCoeff();
    const T label_logit = logits(label, n) - top;  // read before p may overwrite it
    p = (logits.col(n).array() - top).exp().matrix();
    const T sum = p.sum();
    loss += static_cast<Sum>(std::log(sum) - label_logit);
    p /= sum;                    // the softmax ...
    p(label) -= 1;               // ... minus the one-hot label ...
    p /= static_cast<T>(batch);  // ... for the mean over the columns
  }
  return static_cast<T>(loss / static_cast<Sum>(batch));
}

/// softmax_cross_entropy past its compile-time checks.
template <typename Derived, typename Gradient>
typename Derived::Scalar checked_softmax_cross_entropy(const Eigen::MatrixBase<Derived>& logits,
                                                       const int* labels, Eigen::Index count,
                                                       Gradient& dlogits) {
  using T = typename Derived::Scalar;
  require_loss_gradient<T, Gradient>();
  if constexpr (std::is_same_v<typename storage_traits<Gradient>::scalar, T>) {
    return softmax_cross_entropy<T>(loss_operand(logits), labels, count, dlogits);
  } else {
    return T(0);
  }
}

}  // namespace detail

/// Mean squared error over every entry, as torch.nn.functional.mse_loss:
///   L = Σ (Y − target)² / (out·N),   dY = ∂L/∂Y = 2 (Y − target) / (out·N).
/// Y and target are out x N; dY (out x N, caller storage, may be Y itself) is
/// written and L returned. Each is used in its own storage order; given
/// storage (not expressions) for Y and target, allocates nothing.
/// \throws shape_error, writing nothing, when target or dY is not out x N or
///         Y has no entries.
template <typename DerivedY, typename DerivedTarget, typename Gradient>
typename DerivedY::Scalar mean_squared_error(const Eigen::MatrixBase<DerivedY>& Y,
                                             const Eigen::MatrixBase<DerivedTarget>& target,
                                             Gradient&& dY) {
  using T = typename DerivedY::Scalar;
  static_assert(std::is_same_v<typename DerivedTarget::Scalar, T>,
                "glora: a loss's Y and target must hold one scalar type: convert one of them "
                "(e.g. target.cast<float>())");
  detail::require_loss_gradient<T, Gradient>();
  if constexpr (std::is_same_v<typename DerivedTarget::Scalar, T> &&
                std::is_same_v<typename detail::storage_traits<Gradient>::scalar, T>) {
    return detail::mean_squared_error<T>(detail::loss_operand(Y), detail::loss_operand(target), dY);
  } else {
    return T(0);
  }
}

/// As mean_squared_error(Y, target, dY), with the gradient in new storage.
template <typename DerivedY, typename DerivedTarget>
LossAndGradient<typename DerivedY::Scalar> mean_squared_error(
    const Eigen::MatrixBase<DerivedY>& Y, const Eigen::MatrixBase<DerivedTarget>& target) {
  using T = typename DerivedY::Scalar;
  LossAndGradient<T> result{T(0), MatrixX<T>(Y.rows(), Y.cols())};
  result.loss = mean_squared_error(Y, target, result.gradient);
  return result;
}

/// Softmax cross-entropy with integer class labels, averaged over the
/// samples, as torch.nn.functional.cross_entropy:
///   L = (1/N) Σₙ [log Σᵢ exp(logits(i, n)) − logits(labels[n], n)],
///   dlogits = ∂L/∂logits = (softmax(logits) − one_hot(labels)) / N.
/// logits is classes x N, labels has N entries in [0, classes); dlogits
/// (classes x N, caller storage, may be logits itself) is written and L
/// returned. Computed through log-sum-exp, so large logits do not overflow.
/// Each is used in its own storage order; given storage (not an expression)
/// for logits, allocates nothing.
/// \throws shape_error, writing nothing, when labels does not have N entries,
///         a label is out of range, dlogits is not classes x N or N is 0.
template <typename Derived, typename Gradient>
typename Derived::Scalar softmax_cross_entropy(const Eigen::MatrixBase<Derived>& logits,
                                               const Eigen::Ref<const Eigen::VectorXi>& labels,
                                               Gradient&& dlogits) {
  return detail::checked_softmax_cross_entropy(logits, labels.data(), labels.size(), dlogits);
}

/// As above, with the labels in a std::vector.
template <typename Derived, typename Gradient>
typename Derived::Scalar softmax_cross_entropy(const Eigen::MatrixBase<Derived>& logits,
                                               const std::vector<int>& labels, Gradient&& dlogits) {
  return detail::checked_softmax_cross_entropy(logits, labels.data(),
                                               static_cast<Eigen::Index>(labels.size()), dlogits);
}

/// As softmax_cross_entropy(logits, labels, dlogits), with the gradient in
/// new storage. `labels` is a std::vector<int> or an Eigen::VectorXi.
template <typename Derived, typename Labels>
LossAndGradient<typename Derived::Scalar> softmax_cross_entropy(
    const Eigen::MatrixBase<Derived>& logits, const Labels& labels) {
  using T = typename Derived::Scalar;
  LossAndGradient<T> result{T(0), MatrixX<T>(logits.rows(), logits.cols())};
  result.loss = softmax_cross_entropy(logits, labels, result.gradient);
  return result;
}

}  // namespace glora

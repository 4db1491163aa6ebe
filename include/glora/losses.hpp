#pragma once
// The two losses that close most networks: mean squared error (regression)
// and softmax cross-entropy (classification). Each returns the loss, averaged
// as torch.nn.functional does by default, and writes its gradient with
// respect to the network's output: the dY that backward() takes.
//
// Samples are columns, as everywhere in glora: the output Y is out x N.
// Given storage for the gradient, a loss allocates nothing; the gradient may
// be the output's own storage (the output is read before it is overwritten).

#include <glora/errors.hpp>
#include <glora/support.hpp>

#include <Eigen/Core>

#include <cmath>
#include <cstddef>
#include <string>
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

template <typename T>
T mean_squared_error(const Eigen::Ref<const MatrixX<T>>& Y,
                     const Eigen::Ref<const MatrixX<T>>& target, Eigen::Ref<MatrixX<T>> dY) {
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

template <typename T>
T softmax_cross_entropy(const Eigen::Ref<const MatrixX<T>>& logits, const int* labels,
                        Eigen::Index label_count, Eigen::Ref<MatrixX<T>> dlogits) {
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

}  // namespace detail

/// Mean squared error over every entry, as torch.nn.functional.mse_loss:
///   L = Σ (Y − target)² / (out·N),   dY = ∂L/∂Y = 2 (Y − target) / (out·N).
/// Y and target are out x N; dY (out x N, caller storage, may be Y itself) is
/// written and L returned. Allocates nothing.
/// \throws shape_error, writing nothing, when target or dY is not out x N or
///         Y has no entries.
template <typename DerivedY, typename DerivedTarget>
typename DerivedY::Scalar mean_squared_error(const Eigen::MatrixBase<DerivedY>& Y,
                                             const Eigen::MatrixBase<DerivedTarget>& target,
                                             Eigen::Ref<MatrixX<typename DerivedY::Scalar>> dY) {
  return detail::mean_squared_error<typename DerivedY::Scalar>(Y, target, dY);
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
/// Allocates nothing.
/// \throws shape_error, writing nothing, when labels does not have N entries,
///         a label is out of range, dlogits is not classes x N or N is 0.
template <typename Derived>
typename Derived::Scalar softmax_cross_entropy(
    const Eigen::MatrixBase<Derived>& logits, const Eigen::Ref<const Eigen::VectorXi>& labels,
    Eigen::Ref<MatrixX<typename Derived::Scalar>> dlogits) {
  return detail::softmax_cross_entropy<typename Derived::Scalar>(logits, labels.data(),
                                                                 labels.size(), dlogits);
}

/// As above, with the labels in a std::vector.
template <typename Derived>
typename Derived::Scalar softmax_cross_entropy(
    const Eigen::MatrixBase<Derived>& logits, const std::vector<int>& labels,
    Eigen::Ref<MatrixX<typename Derived::Scalar>> dlogits) {
  return detail::softmax_cross_entropy<typename Derived::Scalar>(
      logits, labels.data(), static_cast<Eigen::Index>(labels.size()), dlogits);
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

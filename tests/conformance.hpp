// Conformance over the paper's search space: what a layer gives through every
// public path (forward, merge, merge_into, merge_in_place, backward), and the
// two judgements of it:
//
//   - a run-time configured layer (DynamicLinear, DynamicLinearView) against
//     the plain formula of reference_formula.hpp and against central
//     differences (test_conformance.cpp);
//   - each compile-time layer type (Linear, LinearView) against the run-time
//     layer set to the same configuration over the same tensors, which must
//     agree bit for bit: both run one arithmetic (test_conformance_types_*.cpp).
//
// The part instantiated per layer type is kept to the library calls; the
// comparisons depend only on the scalar type.
#ifndef GLORA_TESTS_CONFORMANCE_HPP
#define GLORA_TESTS_CONFORMANCE_HPP

#include "reference_formula.hpp"

#include <glora/glora.hpp>

#include <catch2/catch.hpp>

#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace glora_test {

/// Every configuration of the reference space at LoRA rank `rank`, written
/// out independently of the library's search spaces:
///   A, B in {LoRA_r, vector, constant, none},  C in {LoRA_r, vector, none},
///   D, E in {constant, none, vector}.
inline std::vector<glora::LayerConfig> reference_configs(int rank) {
  using glora::Choice;
  const std::vector<Choice> ab = {Choice::low_rank(rank), Choice::vector(), Choice::scalar(),
                                  Choice::none()};
  const std::vector<Choice> c = {Choice::low_rank(rank), Choice::vector(), Choice::none()};
  const std::vector<Choice> de = {Choice::scalar(), Choice::none(), Choice::vector()};
  std::vector<glora::LayerConfig> all;
  for (const Choice a : ab) {
    for (const Choice b : ab) {
      for (const Choice cc : c) {
        for (const Choice d : de) {
          for (const Choice e : de) all.push_back({a, b, cc, d, e});
        }
      }
    }
  }
  return all;
}

/// A run-time adapter's tensors as they are stored, whatever the adapter.
template <class T, class KA, class KB, class KC, class KD, class KE>
glora::DynamicAdapter<T> stored_tensors(const glora::Adapter<T, KA, KB, KC, KD, KE>& a) {
  return glora::to_dynamic(a);
}
template <class T>
glora::DynamicAdapter<T> stored_tensors(const glora::DynamicAdapter<T>& a) {
  return a;
}

/// What one layer gave through each public path.
template <class T>
struct Observed {
  glora::MatrixX<T> forward;                  // forward(X)
  glora::MatrixX<T> forward_into;             // forward(X, Y)
  glora::Dense<T> merged;                     // merge()
  glora::MatrixX<T> merged_forward;           // merge().forward(X)
  glora::MatrixX<T> merge_into_W;             // merge_into(W, b), W column-major
  glora::VectorX<T> merge_into_b;             //
  glora::RowMajorMatrixX<T> merge_into_rows;  // merge_into(W, b), W row-major
  glora::VectorX<T> merge_into_rows_b;        //
  glora::MatrixX<T> dX;                       // backward(X, dY, grads, dX)
  glora::DynamicAdapter<T> grads;             //
  glora::DynamicAdapter<T> grads_without_dx;  // backward(X, dY, grads, no_input_gradient)
  glora::MatrixX<T> weight;                   // weight() after all of the above
  glora::VectorX<T> bias;                     // bias() after all of the above
};

/// The destinations of an out x in layer's outputs at batch N, filled with
/// the sentinel, so that one left unwritten shows.
template <class T>
GLORA_TEST_OUT_OF_LINE Observed<T> unwritten(Index m, Index n, Index N) {
  Observed<T> got;
  got.forward_into = glora::MatrixX<T>::Constant(m, N, sentinel<T>());
  got.merge_into_W = glora::MatrixX<T>::Constant(m, n, sentinel<T>());
  got.merge_into_b = glora::VectorX<T>::Constant(m, sentinel<T>());
  got.merge_into_rows = glora::RowMajorMatrixX<T>::Constant(m, n, sentinel<T>());
  got.merge_into_rows_b = glora::VectorX<T>::Constant(m, sentinel<T>());
  got.dX = glora::MatrixX<T>::Constant(n, N, sentinel<T>());
  return got;
}

/// The layer's outputs for input X (in x N) and output gradient dY (out x N).
/// Only the layer's own calls are here: this is instantiated for every layer
/// type, the rest (unwritten) once per scalar type.
template <class Layer, class T = typename Layer::scalar_type>
GLORA_TEST_OUT_OF_LINE Observed<T> observe(const Layer& layer, const glora::MatrixX<T>& X,
                                           const glora::MatrixX<T>& dY) {
  Observed<T> got = unwritten<T>(layer.out_features(), layer.in_features(), X.cols());
  got.forward = layer.forward(X);
  layer.forward(X, got.forward_into);
  got.merged = layer.merge();
  got.merged_forward = got.merged.forward(X);
  layer.merge_into(got.merge_into_W, got.merge_into_b);
  layer.merge_into(got.merge_into_rows, got.merge_into_rows_b);
  auto grads = glora::zeros_like(layer.adapter());
  layer.backward(X, dY, grads, got.dX);
  got.grads = stored_tensors(grads);
  glora::set_zero(grads);
  layer.backward(X, dY, grads, glora::no_input_gradient);
  got.grads_without_dx = stored_tensors(grads);
  got.weight = layer.weight();
  got.bias = layer.bias();
  return got;
}

/// What merge_in_place did: the base afterwards and forward(X) through it, or
/// why it refused.
template <class T>
struct InPlace {
  std::string refused;
  glora::MatrixX<T> weight;
  glora::VectorX<T> bias;
  glora::MatrixX<T> forward;
};

template <class Layer, class T = typename Layer::scalar_type>
GLORA_TEST_OUT_OF_LINE InPlace<T> merge_in_place(Layer& layer, const glora::MatrixX<T>& X) {
  InPlace<T> got;
  try {
    layer.merge_in_place();
  } catch (const std::logic_error& e) {
    got.refused = e.what();
  }
  got.weight = layer.weight();
  got.bias = layer.bias();
  got.forward = layer.forward(X);
  return got;
}

/// "" when every tensor of two run-time adapters is equal bit for bit.
template <class T>
std::string adapter_difference(const glora::DynamicAdapter<T>& a,
                               const glora::DynamicAdapter<T>& b) {
  std::string first;
  glora::for_each_tensor(
      [&](const char* name, glora::Role, const auto& x, const auto& y) {
        if (first.empty() && !(x.rows() == y.rows() && x.cols() == y.cols() && x == y)) {
          first = name;
        }
      },
      a, b);
  return first;
}

/// "" when every tensor of two run-time adapters agrees to within `tolerance`
/// relative to the tensor's largest entry, else the first tensor that does not.
template <class T>
std::string adapter_mismatch(const glora::DynamicAdapter<T>& a, const glora::DynamicAdapter<T>& b,
                             double tolerance) {
  std::string first;
  glora::for_each_tensor(
      [&](const char* name, glora::Role, const auto& x, const auto& y) {
        if (!first.empty()) return;
        if (x.rows() != y.rows() || x.cols() != y.cols()) {
          first = name;
        } else if (x.size() != 0) {
          const double scale = double(x.cwiseAbs().maxCoeff()) + double(y.cwiseAbs().maxCoeff());
          if (double((x - y).cwiseAbs().maxCoeff()) > tolerance * scale) first = name;
        }
      },
      a, b);
  return first;
}

/// "" when two layers gave exactly the same through every path, or the first
/// path where they differ.
template <class T>
std::string difference(const Observed<T>& a, const Observed<T>& b) {
  const auto same = [](const auto& x, const auto& y) {
    return x.rows() == y.rows() && x.cols() == y.cols() && x == y;
  };
  if (!same(a.forward, b.forward)) return "forward(X)";
  if (!same(a.forward_into, b.forward_into)) return "forward(X, Y)";
  if (!same(a.merged.weight, b.merged.weight)) return "merge().weight";
  if (!same(a.merged.bias, b.merged.bias)) return "merge().bias";
  if (!same(a.merged_forward, b.merged_forward)) return "merge().forward(X)";
  if (!same(a.merge_into_W, b.merge_into_W)) return "merge_into W";
  if (!same(a.merge_into_b, b.merge_into_b)) return "merge_into b";
  if (!same(a.merge_into_rows, b.merge_into_rows)) return "merge_into row-major W";
  if (!same(a.merge_into_rows_b, b.merge_into_rows_b)) return "merge_into b (row-major W)";
  if (!same(a.dX, b.dX)) return "backward dX";
  if (!adapter_difference(a.grads, b.grads).empty()) {
    return "backward gradient of " + adapter_difference(a.grads, b.grads);
  }
  if (!adapter_difference(a.grads_without_dx, b.grads_without_dx).empty()) {
    return "backward without dX, gradient of " +
           adapter_difference(a.grads_without_dx, b.grads_without_dx);
  }
  if (!same(a.weight, b.weight)) return "weight()";
  if (!same(a.bias, b.bias)) return "bias()";
  return {};
}

/// A refusal's reason, without the name of the type that gives it.
inline std::string reason(const std::string& refusal) {
  const std::size_t call = refusal.find("::merge_in_place");
  return call == std::string::npos ? refusal : refusal.substr(call);
}

template <class T>
std::string difference(const InPlace<T>& a, const InPlace<T>& b) {
  if (reason(a.refused) != reason(b.refused)) {
    return "merge_in_place refused: '" + a.refused + "' / '" + b.refused + "'";
  }
  if (!(a.weight == b.weight)) return "merge_in_place weight";
  if (!(a.bias == b.bias)) return "merge_in_place bias";
  if (!(a.forward == b.forward)) return "forward after merge_in_place";
  return {};
}

}  // namespace glora_test

#endif  // GLORA_TESTS_CONFORMANCE_HPP

#pragma once
// The classifier: a multilayer perceptron of glora::Dense layers with ReLU
// between them, and what it takes to train some of its layers.
//
// The activations belong to the example; glora provides the layers (forward,
// backward, merge), the loss and the optimisers.

#include "random.hpp"

#include <glora/glora.hpp>
#include <glora/losses.hpp>
#include <glora/optim.hpp>

#include <Eigen/Core>

#include <cmath>
#include <type_traits>
#include <utility>
#include <vector>

namespace fmnist {

using Matrix = glora::MatrixX<float>;
using Dense = glora::Dense<float>;

/// A plain MLP: ReLU after every layer but the last, which gives the logits.
using Mlp = std::vector<Dense>;

/// A fresh MLP with layer sizes sizes[0] -> sizes[1] -> ...: He-normal
/// weights (variance 2 / fan_in, right for ReLU), zero biases.
inline Mlp make_mlp(const std::vector<Eigen::Index>& sizes, Rng& rng) {
  Mlp mlp;
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
    const float scale = std::sqrt(2.0f / static_cast<float>(sizes[l]));
    Matrix weight(sizes[l + 1], sizes[l]);
    for (Eigen::Index j = 0; j < weight.cols(); ++j) {
      for (Eigen::Index i = 0; i < weight.rows(); ++i) weight(i, j) = scale * rng.normal();
    }
    mlp.emplace_back(std::move(weight), glora::VectorX<float>::Zero(sizes[l + 1]));
  }
  return mlp;
}

inline void relu_in_place(Matrix& Z) { Z = Z.cwiseMax(0.0f); }

/// Turns dL/dY into dL/dZ for Y = relu(Z): the gradient passes where Y > 0.
inline void relu_backward_in_place(Matrix& dY, const Matrix& Y) {
  dY = (Y.array() > 0.0f).select(dY, 0.0f);
}

/// Forward pass of a plain MLP; X is kPixels x N, the logits kClasses x N.
inline Matrix logits(const Mlp& mlp, const Eigen::Ref<const Matrix>& X) {
  Matrix Y = X;
  for (std::size_t l = 0; l < mlp.size(); ++l) {
    Y = mlp[l].forward(Y);
    if (l + 1 < mlp.size()) relu_in_place(Y);
  }
  return Y;
}

/// The predicted class of each column of the logits.
inline std::vector<int> predictions(const Matrix& logits) {
  std::vector<int> predicted(static_cast<std::size_t>(logits.cols()));
  for (Eigen::Index n = 0; n < logits.cols(); ++n) {
    Eigen::Index best = 0;
    logits.col(n).maxCoeff(&best);
    predicted[static_cast<std::size_t>(n)] = static_cast<int>(best);
  }
  return predicted;
}

inline int count_correct(const Matrix& logits, const std::vector<int>& labels) {
  const std::vector<int> predicted = predictions(logits);
  int correct = 0;
  for (std::size_t n = 0; n < labels.size(); ++n) correct += predicted[n] == labels[n];
  return correct;
}

/// What training updates in a layer: a Dense layer is trained whole, a GLoRA
/// layer only through its adapter, its frozen W0 and b0 stay as they are.
inline Dense& trainable_parameters(Dense& layer) { return layer; }
template <typename... Kinds>
auto& trainable_parameters(glora::Linear<float, Kinds...>& layer) {
  return layer.adapter();
}
inline const Dense& trainable_parameters(const Dense& layer) { return layer; }
template <typename... Kinds>
const auto& trainable_parameters(const glora::Linear<float, Kinds...>& layer) {
  return layer.adapter();
}

/// The plain layer to deploy: a Dense layer as it is, a GLoRA layer merged
/// into one (same cost as the original layer).
inline Dense plain(const Dense& layer) { return layer; }
template <typename... Kinds>
Dense plain(const glora::Linear<float, Kinds...>& layer) {
  return layer.merge();
}

/// One layer under training, with its gradient accumulator and its optimiser
/// (AdamW keeps two moments per parameter, so each layer has its own).
template <typename Layer>
class TrainableLayer {
 public:
  using Parameters = std::decay_t<decltype(trainable_parameters(std::declval<Layer&>()))>;

  TrainableLayer(Layer layer, float weight_decay)
      : layer_(std::move(layer)),
        gradients_(glora::zeros_like(trainable_parameters(layer_))),
        optimizer_(glora::AdamW<float>::Options().lr(1e-3f).weight_decay(weight_decay)) {}

  const Layer& layer() const { return layer_; }
  Matrix forward(const Eigen::Ref<const Matrix>& X) const { return layer_.forward(X); }

  /// Adds this batch's gradients to the accumulator; returns dL/dX.
  Matrix backward(const Eigen::Ref<const Matrix>& X, const Eigen::Ref<const Matrix>& dY) {
    return layer_.backward(X, dY, gradients_);
  }

  /// One optimiser step with the accumulated gradients, which it consumes
  /// (sets to zero) for the next batch.
  void step(float learning_rate) {
    optimizer_.set_learning_rate(learning_rate);
    optimizer_.step(trainable_parameters(layer_), gradients_);
  }

  Eigen::Index parameter_count() const {
    return glora::parameter_count(trainable_parameters(layer_));
  }

 private:
  Layer layer_;
  Parameters gradients_;
  glora::AdamW<float> optimizer_;
};

struct StepResult {
  float loss;
  int correct;  // correctly classified images of the batch (before the update)
};

/// The network being trained, bottom to top:
///   frozen  plain Dense layers that stay fixed (ReLU after each),
///   hidden  trainable layers of type Hidden (ReLU after each),
///   head    a trainable Dense layer that gives the logits.
/// Training only the head is {frozen: all hidden layers, hidden: none};
/// full fine-tuning and (G)LoRA have every layer in `hidden`.
template <typename Hidden>
struct Network {
  Mlp frozen;
  std::vector<TrainableLayer<Hidden>> hidden;
  TrainableLayer<Dense> head;

  /// The forward pass as deployed before merging: GLoRA layers unmerged.
  Matrix logits(const Eigen::Ref<const Matrix>& X) const {
    Matrix Y = features(X);
    for (const auto& layer : hidden) {
      Y = layer.forward(Y);
      relu_in_place(Y);
    }
    return head.forward(Y);
  }

  Eigen::Index parameter_count() const {
    Eigen::Index count = head.parameter_count();
    for (const auto& layer : hidden) count += layer.parameter_count();
    return count;
  }

  /// Forward, backward and one optimiser step on a minibatch.
  StepResult train_step(const Matrix& X, const std::vector<int>& labels, float learning_rate) {
    // inputs[l] is the input of hidden layer l; inputs.back() the head's.
    std::vector<Matrix> inputs{features(X)};
    for (const auto& layer : hidden) {
      Matrix Y = layer.forward(inputs.back());
      relu_in_place(Y);
      inputs.push_back(std::move(Y));
    }
    const Matrix out = head.forward(inputs.back());
    const glora::LossAndGradient<float> loss = glora::softmax_cross_entropy(out, labels);

    Matrix dY = head.backward(inputs.back(), loss.gradient);
    for (std::size_t l = hidden.size(); l-- > 0;) {
      relu_backward_in_place(dY, inputs[l + 1]);
      // The bottom layer's dX is not needed; backward returns it anyway.
      dY = hidden[l].backward(inputs[l], dY);
    }

    head.step(learning_rate);
    for (auto& layer : hidden) layer.step(learning_rate);
    return {loss.loss, count_correct(out, labels)};
  }

  /// The deployable model: every layer plain, GLoRA layers merged.
  Mlp merged() const {
    Mlp mlp = frozen;
    for (const auto& layer : hidden) mlp.push_back(plain(layer.layer()));
    mlp.push_back(head.layer());
    return mlp;
  }

 private:
  /// The output of the frozen layers (ReLU applied): the trainable part's input.
  Matrix features(const Eigen::Ref<const Matrix>& X) const {
    Matrix Y = X;
    for (const Dense& layer : frozen) {
      Y = layer.forward(Y);
      relu_in_place(Y);
    }
    return Y;
  }
};

}  // namespace fmnist

#include <glora/glora.hpp>

#include <cstdio>

// The model as its owner keeps it: y = W2 relu(W1 x + b1) + b2. Nothing here knows about glora.
struct Model {
  Eigen::MatrixXf W1, W2;  // 32 x 16, 4 x 32 (out x in)
  Eigen::VectorXf b1, b2;  // 32, 4
};

int main() {
  Model model{Eigen::MatrixXf::Random(32, 16), Eigen::MatrixXf::Random(4, 32),
              Eigen::VectorXf::Random(32), Eigen::VectorXf::Random(4)};
  const Eigen::MatrixXf X = Eigen::MatrixXf::Random(16, 256);  // 256 samples (columns)
  const Eigen::MatrixXf H = ((model.W1 * X).colwise() + model.b1).cwiseMax(0.0f);  // layer 1
  // What layer 2 should learn: its weights changed by a rank-2 matrix, its outputs shifted.
  const Eigen::MatrixXf change =
      0.1f * Eigen::MatrixXf::Random(4, 2) * Eigen::MatrixXf::Random(2, 32);
  const Eigen::MatrixXf target = (((model.W2 + change) * H).colwise() + model.b2).array() + 0.5f;

  // Adapt layer 2 where it lives: a view over the model's W2 and b2, no copy.
  // B = Bd Bu (rank 2) is added to W2, E (one number per output) to b2.
  glora::LinearView<float, glora::None, glora::LowRank<2>, glora::None, glora::None, glora::Vector>
      layer(model.W2, model.b2);
  layer.adapter().initialize(/*seed=*/1);  // the adapted layer starts equal to the frozen one
  auto grads = glora::zeros_like(layer.adapter());
  glora::AdamW<float> optimiser(glora::AdamW<float>::Options().lr(5e-2f).weight_decay(0));

  Eigen::MatrixXf Y(4, 256), dY(4, 256);
  float loss = 0;
  for (int step = 0; step < 500; ++step) {
    layer.forward(H, Y);
    loss = glora::mean_squared_error(Y, target, dY);  // and dY = ∂loss/∂Y
    layer.backward(H, dY, grads);                     // adds to grads; returns ∂loss/∂H
    optimiser.step(layer.adapter(), grads);           // updates the adapter, zeroes grads
  }

  layer.merge_in_place();  // model.W2 and model.b2 now hold the adapted layer
  const Eigen::MatrixXf Y_model = (model.W2 * H).colwise() + model.b2;
  const float error = (Y_model - target).cwiseAbs().maxCoeff();
  std::printf("loss %.2e, max |merged model - target| = %.2e\n", loss, error);
  return error < 1e-3f ? 0 : 1;
}

#include <glora/glora.hpp>
#include <glora/search.hpp>

#include <cstdio>
#include <vector>

int main() {
  // A frozen model of two layers (8 -> 16 -> 4) and data of a task to adapt it to.
  const Eigen::MatrixXf W1 = Eigen::MatrixXf::Random(16, 8), W2 = Eigen::MatrixXf::Random(4, 16);
  const Eigen::VectorXf b1 = Eigen::VectorXf::Random(16), b2 = Eigen::VectorXf::Random(4);
  const Eigen::MatrixXf X = Eigen::MatrixXf::Random(8, 256), X_val = Eigen::MatrixXf::Random(8, 64);
  const auto task = [&](const Eigen::MatrixXf& x) -> Eigen::MatrixXf {  // what it should compute
    const Eigen::MatrixXf h = (1.5f * W1 * x).colwise() + b1;
    return (0.8f * W2 * h).colwise() + (0.8f * b2 + Eigen::VectorXf::Constant(4, 0.3f));
  };
  const Eigen::MatrixXf target = task(X), target_val = task(X_val);

  // The supernet: run-time configured layers whose tensors hold every configuration of the
  // space (the paper's {4, 2} supernet: 900 per layer).
  const glora::SearchSpace space = glora::SearchSpace::reference({4, 2});
  std::vector<glora::DynamicLinear<float>> layers;
  layers.emplace_back(W1, b1, space.capacity());
  layers.emplace_back(W2, b2, space.capacity());
  for (auto& layer : layers) layer.adapter().initialize(7);
  const auto forward = [&](const Eigen::MatrixXf& x) {
    return layers[1].forward(layers[0].forward(x));
  };

  // 1. Train it: every step draws one configuration per layer and trains the tensors it uses.
  const int steps = 2000;
  glora::SupernetSettings settings;  // the reference's, but for a learning rate for this toy
  settings.learning_rate = 1e-2;
  glora::Supernet supernet(glora::search_layers(layers, space), steps, settings);
  std::vector<glora::AdamW<float>> adam(2,
                                        glora::AdamW<float>(supernet.optimiser_options<float>()));
  std::vector<glora::DynamicAdapter<float>> grads = {glora::zeros_like(layers[0].adapter()),
                                                     glora::zeros_like(layers[1].adapter())};
  Eigen::MatrixXf dY(4, X.cols());
  for (int step = 0; step < steps; ++step) {
    supernet.sample(layers);
    const Eigen::MatrixXf H = layers[0].forward(X);
    glora::mean_squared_error(layers[1].forward(H), target, dY);
    layers[0].backward(X, layers[1].backward(H, dY, grads[1]), grads[0], glora::no_input_gradient);
    for (std::size_t l = 0; l < 2; ++l) {
      adam[l].set_learning_rate(supernet.learning_rate<float>(step));
      adam[l].step(layers[l].adapter(), grads[l]);
    }
  }

  // 2. Search it: a candidate is one configuration per layer; its fitness is the supernet's
  //    score with it on validation data (here: minus the mean squared error).
  const glora::Fitness fitness = [&](const std::vector<glora::LayerConfig>& configs) {
    glora::set_configs(layers, configs);
    return -double(glora::mean_squared_error(forward(X_val), target_val).loss);
  };
  glora::EvolutionSettings search;  // the reference's: 20 generations of 50
  search.max_parameters = 120;      // trainable parameters of both layers together
  search.progress = nullptr;
  const glora::Candidate best = glora::evolve(supernet.layers(), fitness, search).best.front();

  // 3. Deploy the choice: merged into plain layers, or as compile-time layers of these types.
  glora::set_configs(layers, best.configs);
  const std::vector<glora::Dense<float>> model = glora::merge_all(layers);
  std::printf("validation loss %.4f with %lld parameters\n", -best.fitness,
              static_cast<long long>(best.parameters));
  for (const glora::LayerConfig& config : best.configs) {
    std::printf("%s\n", glora::cpp_type(config).c_str());
  }
  const Eigen::MatrixXf merged = model[1].forward(model[0].forward(X_val));
  return (merged - forward(X_val)).cwiseAbs().maxCoeff() < 1e-4f ? 0 : 1;
}

#include <glora/search.hpp>

#include <cstdio>
#include <utility>
#include <vector>

int main() {
  // The adapted layers of a ViT-B/16: qkv, proj, fc1 and fc2 of 12 blocks
  // (out x in), each offering the choices of the paper's {8, 4} supernet.
  std::vector<glora::SearchLayer> layers;
  for (int block = 0; block < 12; ++block) {
    for (const auto& [out, in] : {std::pair{2304, 768}, {768, 768}, {3072, 768}, {768, 3072}}) {
      layers.push_back({glora::SearchSpace::reference({8, 4}), out, in});
    }
  }

  // Higher is better. In practice: the supernet's validation accuracy with
  // configs[i] on layer i. Here a stand-in that likes rank in A and vectors in E.
  const glora::Fitness fitness = [](const std::vector<glora::LayerConfig>& configs) {
    double score = 0;
    for (const glora::LayerConfig& c : configs) {
      score += c.A.rank + (c.E.kind == glora::Kind::vector ? 1.0 : 0.0);
    }
    return score;
  };

  glora::EvolutionSettings settings;  // the reference's: 20 generations of 50, top 10
  settings.max_parameters = 860000;   // trainable parameters of all layers together
  settings.progress = nullptr;        // no line per generation
  const glora::EvolutionResult result = glora::evolve(layers, fitness, settings);

  const glora::Candidate& best = result.best.front();
  std::printf("fitness %g with %lld parameters after %zu evaluations\n", best.fitness,
              static_cast<long long>(best.parameters), result.evaluations);
  std::printf("block 0 qkv: %s\n", glora::to_string(best.configs[0]).c_str());
  return best.parameters <= settings.max_parameters ? 0 : 1;
}

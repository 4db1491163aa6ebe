// Uses glora::io the way a downstream project does: saves a layer's adapter, loads it into a
// second layer and writes the merged model; exits non-zero when anything differs.
#include <glora/glora.hpp>
#include <glora/io.hpp>

#include <cstdio>

int main() {
  const glora::MatrixX<float> W0 = glora::MatrixX<float>::Random(6, 5);
  const glora::VectorX<float> b0 = glora::VectorX<float>::Random(6);
  glora::Linear<float, glora::LowRank<2>, glora::Vector> trained(W0, b0), loaded(W0, b0);
  trained.adapter().initialize(7);
  trained.adapter().A.down.setRandom();
  trained.adapter().B.value.setRandom();

  glora::io::AdapterSet out, in;
  out.add("fc", trained);
  in.add("fc", loaded);
  glora::io::save_adapters("consumer_adapters.safetensors", out);
  glora::io::load_adapters("consumer_adapters.safetensors", in);

  glora::io::MergedSet<float> merged;
  merged.add("fc", loaded);
  glora::io::save_merged("consumer_merged.safetensors", merged);
  const glora::io::SafetensorsFile file("consumer_merged.safetensors");
  const glora::MatrixX<float> weight = file.matrix<float>(file.at("fc.weight"));

  const bool same_adapter = loaded.adapter().A.down == trained.adapter().A.down &&
                            loaded.adapter().A.up == trained.adapter().A.up &&
                            loaded.adapter().B.value == trained.adapter().B.value;
  const float merge_error = (weight - trained.merge().weight).cwiseAbs().maxCoeff();
  std::printf("adapter round trip: %s, merged weight difference: %g\n",
              same_adapter ? "exact" : "DIFFERENT", merge_error);
  return same_adapter && merge_error == 0.0f ? 0 : 1;
}

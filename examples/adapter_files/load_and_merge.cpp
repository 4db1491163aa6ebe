// Loads GLoRA adapters (written by write_adapters.py, or trained in PyTorch and converted) into a
// plain Eigen model, runs it, saves the merged model for PyTorch, and merges into its own weights.
//
// Usage: glora_load_and_merge ADAPTERS MERGED   e.g. adapters.safetensors merged.safetensors
#include <glora/glora.hpp>
#include <glora/io.hpp>

#include <Eigen/Core>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s ADAPTERS MERGED\n", argv[0]);
    return 2;
  }
  // The model as its owner has it: 16 -> 32 -> 4, weights out x in.
  Eigen::MatrixXf W1 = Eigen::MatrixXf::Random(32, 16), W2 = Eigen::MatrixXf::Random(4, 32);
  Eigen::VectorXf b1 = Eigen::VectorXf::Random(32), b2 = Eigen::VectorXf::Random(4);

  // Views over the model's layers, with the kinds the adapters were trained with.
  glora::LinearView<float, glora::LowRank<4>, glora::Vector, glora::None, glora::Vector,
                    glora::Vector>
      fc1(W1, b1);
  glora::LinearView<float, glora::Scalar, glora::LowRank<2>, glora::Vector, glora::None,
                    glora::Scalar>
      fc2(W2, b2);
  glora::io::AdapterSet layers;
  layers.add("fc1", fc1).add("fc2", fc2);
  glora::io::load_adapters(argv[1], layers);  // checks every kind and shape first

  const Eigen::MatrixXf X = Eigen::MatrixXf::Random(16, 8);  // 8 samples
  const Eigen::MatrixXf Y = fc2.forward(fc1.forward(X).cwiseMax(0.0f));

  glora::io::MergedSet<float> merged;  // fc1.weight [32, 16], fc1.bias [32], fc2.weight, ...
  merged.add("fc1", fc1).add("fc2", fc2);
  glora::io::save_merged(argv[2], merged);

  fc1.merge_in_place();  // now W1, b1, W2, b2 are the fine-tuned model
  fc2.merge_in_place();
  const Eigen::MatrixXf Y_plain = (W2 * ((W1 * X).colwise() + b1).cwiseMax(0.0f)).colwise() + b2;
  const float difference = (Y - Y_plain).cwiseAbs().maxCoeff();
  std::printf("max |adapted - merged| = %g\n", difference);
  return difference < 1e-4f ? 0 : 1;
}

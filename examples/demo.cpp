// glora demo: an existing plain-Eigen model gets GLoRA adapters on its layers, the adapted model
// is run, the adapters are merged back into the model's own weights, and merged vs unmerged
// inference is timed.
//
// Usage: glora_demo [batch [repetitions]]   (GLORA_DEMO_QUICK=1 picks a small timing run)
#include <glora/glora.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace {

// ---------------------------------------------------------------------------------------------
// The model as its owner has it: three dense layers, 128 -> 256 -> 256 -> 10, ReLU in between.
// Weights are out x in, samples are columns. Nothing here knows about glora.
struct Mlp {
  Eigen::MatrixXf W1, W2, W3;
  Eigen::VectorXf b1, b2, b3;

  Eigen::MatrixXf forward(const Eigen::MatrixXf& X) const {
    Eigen::MatrixXf h1 = ((W1 * X).colwise() + b1).cwiseMax(0.0f);
    Eigen::MatrixXf h2 = ((W2 * h1).colwise() + b2).cwiseMax(0.0f);
    return (W3 * h2).colwise() + b3;
  }
};

// Made-up but deterministic "pretrained" values, the same on every platform.
Eigen::MatrixXf pretrained(Eigen::Index rows, Eigen::Index cols, float phase) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(cols));
  Eigen::MatrixXf M(rows, cols);
  for (Eigen::Index j = 0; j < cols; ++j) {
    for (Eigen::Index i = 0; i < rows; ++i) {
      M(i, j) =
          scale * std::sin(phase + 0.37f * static_cast<float>(i) + 1.13f * static_cast<float>(j) +
                           0.011f * static_cast<float>(i * j % 97));
    }
  }
  return M;
}

Mlp make_model() {
  Mlp m;
  m.W1 = pretrained(256, 128, 0.1f);
  m.b1 = pretrained(256, 1, 0.2f);
  m.W2 = pretrained(256, 256, 0.3f);
  m.b2 = pretrained(256, 1, 0.4f);
  m.W3 = pretrained(10, 256, 0.5f);
  m.b3 = pretrained(10, 1, 0.6f);
  return m;
}

float max_abs_diff(const Eigen::MatrixXf& a, const Eigen::MatrixXf& b) {
  return (a - b).cwiseAbs().maxCoeff();
}

// Best and median wall time of `reps` calls, in milliseconds.
struct Timing {
  double best_ms;
  double median_ms;
};

Timing time_ms(int reps, const std::function<void()>& run) {
  run();  // warm-up: first-call allocations are not what is being measured
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    run();
    const auto stop = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms.front(), ms[ms.size() / 2]};
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = std::getenv("GLORA_DEMO_QUICK") != nullptr;
  const Eigen::Index batch = argc > 1 ? std::stol(argv[1]) : (quick ? 256 : 4096);
  const int reps = argc > 2 ? std::stoi(argv[2]) : (quick ? 3 : 20);

  Mlp model = make_model();
  const Eigen::MatrixXf X = pretrained(128, 64, 0.7f);  // 64 samples
  const Eigen::MatrixXf y_frozen = model.forward(X);

  // --- adapt the model --------------------------------------------------------------------------
  // Layers 1 and 2: views over the model's own W and b (no copy). Layer 3: a glora::Linear that
  // owns a copy of W3 and b3.
  glora::LinearView<float, glora::LowRank<4>, glora::LowRank<4>, glora::Vector, glora::Vector,
                    glora::Vector>
      l1(model.W1, model.b1);
  glora::LinearView<float, glora::Vector, glora::LowRank<2>, glora::None, glora::Scalar,
                    glora::Vector>
      l2(model.W2, model.b2);
  glora::Linear<float, glora::Scalar, glora::Vector, glora::LowRank<2>, glora::Vector,
                glora::Scalar>
      l3(model.W3, model.b3);

  // Reference initialisation, then stand-in "trained" values so that the adapters do something.
  std::srand(2023);
  l1.adapter().initialize(1);
  l1.adapter().A.down.setRandom();
  l1.adapter().A.down *= 0.1f;
  l1.adapter().B.down.setRandom();
  l1.adapter().B.down *= 0.02f;
  l1.adapter().C.value.setRandom();
  l1.adapter().C.value *= 0.05f;
  l1.adapter().D.value.setRandom();
  l1.adapter().E.value.setRandom();
  l1.adapter().E.value *= 0.1f;

  l2.adapter().initialize(2);
  l2.adapter().A.value.setRandom();
  l2.adapter().A.value *= 0.1f;
  l2.adapter().B.down.setRandom();
  l2.adapter().B.down *= 0.02f;
  l2.adapter().D.value = 0.05f;
  l2.adapter().E.value.setRandom();
  l2.adapter().E.value *= 0.1f;

  l3.adapter().initialize(3);
  l3.adapter().A.value = -0.1f;
  l3.adapter().B.value.setRandom();
  l3.adapter().B.value *= 0.01f;
  l3.adapter().C.down.setRandom();
  l3.adapter().C.down *= 0.1f;
  l3.adapter().D.value.setRandom();
  l3.adapter().E.value = 0.25f;

  const auto adapted_forward = [&](const Eigen::MatrixXf& input) {
    Eigen::MatrixXf h1 = l1.forward(input).cwiseMax(0.0f);
    Eigen::MatrixXf h2 = l2.forward(h1).cwiseMax(0.0f);
    return Eigen::MatrixXf(l3.forward(h2));
  };
  const Eigen::MatrixXf y_adapted = adapted_forward(X);

  std::printf("model 128 -> 256 -> 256 -> 10, %ld samples\n", static_cast<long>(X.cols()));
  std::printf("adapter parameters: %ld + %ld + %ld (frozen weights: %ld)\n",
              static_cast<long>(glora::parameter_count(l1.adapter())),
              static_cast<long>(glora::parameter_count(l2.adapter())),
              static_cast<long>(glora::parameter_count(l3.adapter())),
              static_cast<long>(model.W1.size() + model.W2.size() + model.W3.size()));
  std::printf("max |adapted - frozen|        = %.6g  (the adapters change the model)\n",
              max_abs_diff(y_adapted, y_frozen));

  // --- time unmerged inference on a bigger batch, before merging ---------------------------------
  const Eigen::MatrixXf X_big = pretrained(128, batch, 0.9f);
  Eigen::MatrixXf sink;
  const Timing unmerged = time_ms(reps, [&] { sink = adapted_forward(X_big); });

  // --- merge into the model's own weights -------------------------------------------------------
  l1.merge_in_place();                // writes W1, b1 of `model`; l1's adapter is reset to identity
  l2.merge_in_place();                // writes W2, b2 of `model`
  l3.merge_into(model.W3, model.b3);  // l3 owns a copy; write its merged form into the model

  const Eigen::MatrixXf y_merged = model.forward(X);  // the plain model, now fine-tuned
  const float merge_error = max_abs_diff(y_merged, y_adapted);
  std::printf("max |merged model - adapted|  = %.6g  (merging keeps the outputs)\n", merge_error);
  std::printf("max |view after merge - model| = %.6g  (the views stay consistent)\n",
              max_abs_diff(l1.forward(X), (model.W1 * X).colwise() + model.b1));

  const Timing merged = time_ms(reps, [&] { sink = model.forward(X_big); });
  std::printf("\nforward of %ld samples, %d repetitions (best / median):\n",
              static_cast<long>(batch), reps);
  std::printf("  unmerged GLoRA model: %8.3f ms / %8.3f ms\n", unmerged.best_ms,
              unmerged.median_ms);
  std::printf("  merged plain model:   %8.3f ms / %8.3f ms\n", merged.best_ms, merged.median_ms);
  std::printf("  unmerged / merged:    %8.2fx (median)\n", unmerged.median_ms / merged.median_ms);

  const bool ok = merge_error < 1e-3f;
  std::printf("\n%s\n", ok ? "ok" : "MISMATCH between the merged and the adapted model");
  return ok ? 0 : 1;
}

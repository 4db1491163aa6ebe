// Training a GLoRA adapter: fit a frozen layer to a target it can reach
// (rows rescaled and a low-rank shift of the weights) with backward and AdamW,
// then merge the result into a plain layer.
#include <glora/glora.hpp>

#include <cstdio>

int main() {
  using Layer = glora::Linear<double, glora::Vector, glora::LowRank<2>, glora::None, glora::None,
                              glora::Vector>;
  const glora::MatrixX<double> W0 = glora::MatrixX<double>::Random(12, 20);
  const glora::VectorX<double> b0 = glora::VectorX<double>::Random(12);

  // The target: W = diag(1 + a) W0 + P Q, b = b0 + e.
  const glora::VectorX<double> a = 0.5 * glora::VectorX<double>::Random(12);
  const glora::MatrixX<double> target_W =
      (a.array() + 1.0).matrix().asDiagonal() * W0 +
      0.3 * glora::MatrixX<double>::Random(12, 2) * glora::MatrixX<double>::Random(2, 20);
  const glora::VectorX<double> target_b = b0 + 0.2 * glora::VectorX<double>::Random(12);

  Layer layer(W0, b0);
  layer.adapter().initialize(/*seed=*/7);
  auto grads = glora::zeros_like(layer.adapter());
  glora::AdamW<double> optimiser(glora::AdamW<double>::Options().lr(2e-2).weight_decay(0));

  const int steps = 600;
  glora::MatrixX<double> Y(12, 64), dY(12, 64);
  double loss = 0;
  for (int step = 0; step < steps; ++step) {
    const glora::MatrixX<double> X = glora::MatrixX<double>::Random(20, 64);
    const glora::MatrixX<double> wanted = (target_W * X).colwise() + target_b;
    layer.forward(X, Y);
    loss = glora::mean_squared_error(Y, wanted, dY);  // and dY = d(loss)/dY

    layer.backward(X, dY, grads);  // adds to grads, returns dX
    optimiser.set_learning_rate(glora::cosine_schedule(step, steps, 100, 2e-2));
    optimiser.step(layer.adapter(), grads);  // updates the adapter, then zeroes grads
    if (step % 100 == 0) std::printf("step %4d  loss %.3e\n", step, loss);
  }
  std::printf("final loss %.3e with %ld trainable parameters\n", loss,
              static_cast<long>(glora::parameter_count(layer.adapter())));

  const glora::Dense<double> merged = layer.merge();
  const double error = (merged.weight - target_W).cwiseAbs().maxCoeff();
  std::printf("max |merged W - target W| = %.3e\n", error);
  return loss < 1e-7 && error < 1e-3 ? 0 : 1;
}

// backward() into caller storage allocates nothing once its workspace has
// seen the batch size: every heap allocation is counted (heap_counter.hpp).
// Small layers keep Eigen's GEMM buffers on the stack, so the promise is
// checked at sizes where they leave it: a ViT-B layer (768 x 768) at batches
// 1, 16 and 197, and 1024 x 512 at batch 300.
#include "heap_counter.hpp"

#include <glora/glora.hpp>

#include <catch2/catch.hpp>

#include <tuple>

namespace {

using glora::LowRank;
using glora::None;
using glora::Scalar;
using glora::Vector;
using Index = Eigen::Index;

// Every code path of the backward: low-rank, vector and scalar in each slot.
using SmallLayers =
    std::tuple<glora::Linear<double, LowRank<2>, LowRank<2>, LowRank<2>, Vector, Vector>,
               glora::Linear<double, Vector, Vector, Vector, Scalar, Scalar>,
               glora::Linear<double, Scalar, Scalar, Scalar, None, None>, glora::Linear<double>>;

// The configurations a user trains: full, vector A, LoRA.
using Layers = std::tuple<glora::Linear<float, LowRank<4>, LowRank<4>, LowRank<4>, Vector, Vector>,
                          glora::Linear<float, Vector, LowRank<4>, Vector, Scalar, Vector>,
                          glora::Linear<float, None, LowRank<8>>>;

struct Size {
  Index out, in, batch;
};
constexpr Size kSizes[] = {{768, 768, 1}, {768, 768, 16}, {768, 768, 197}, {1024, 512, 300}};

template <typename F>
void check_no_heap(F&& f) {
  CHECK(glora_test::heap::allocations_during(f) == 0);
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("backward allocates nothing in the steady state", "[backward][allocation]",
                        SmallLayers) {
  using MatrixXd = glora::MatrixX<double>;
  TestType layer(MatrixXd::Random(6, 5), MatrixXd::Random(6, 1));
  auto grads = glora::zeros_like(layer.adapter());
  const MatrixXd X = MatrixXd::Random(5, 4);
  const MatrixXd dY = MatrixXd::Random(6, 4);
  MatrixXd dX(5, 4);
  layer.backward(X, dY, grads, dX);  // sizes the workspace
  check_no_heap([&] { layer.backward(X, dY, grads, dX); });
}

TEMPLATE_LIST_TEST_CASE("backward allocates nothing at real sizes, with and without dX",
                        "[backward][allocation]", Layers) {
  using T = typename TestType::scalar_type;
  using Matrix = glora::MatrixX<T>;
  for (const Size& s : kSizes) {
    for (const bool row_major : {false, true}) {
      INFO((row_major ? "row-major" : "column-major")
           << " W0, " << s.out << " x " << s.in << ", batch " << s.batch);
      const Matrix W0 = Matrix::Random(s.out, s.in);
      const glora::VectorX<T> b0 = glora::VectorX<T>::Random(s.out);
      TestType layer = row_major ? TestType(glora::RowMajorMatrixX<T>(W0), b0) : TestType(W0, b0);
      layer.adapter().for_each_tensor([](const char*, glora::Role, auto t) { t.setRandom(); });
      auto grads = glora::zeros_like(layer.adapter());
      const Matrix X = Matrix::Random(s.in, s.batch);
      const Matrix dY = Matrix::Random(s.out, s.batch);
      Matrix dX(s.in, s.batch);
      layer.backward(X, dY, grads, dX);  // sizes the workspace
      layer.backward(X, dY, grads, glora::no_input_gradient);
      check_no_heap([&] { layer.backward(X, dY, grads, dX); });
      check_no_heap([&] { layer.backward(X, dY, grads, glora::no_input_gradient); });
    }
  }
}

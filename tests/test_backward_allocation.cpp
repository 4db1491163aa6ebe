// backward() into caller storage allocates nothing once its workspace has
// seen the batch size. Eigen's heap allocations are trapped with
// EIGEN_RUNTIME_NO_MALLOC, whose failed check throws here instead of aborting.
#include <stdexcept>

#define EIGEN_RUNTIME_NO_MALLOC
#define eigen_assert(x) \
  if (!(x)) throw std::logic_error("Eigen assertion failed: " #x)

#include <glora/glora.hpp>

#include <catch2/catch.hpp>

#include <tuple>

namespace {

using glora::LowRank;
using glora::None;
using glora::Scalar;
using glora::Vector;
using MatrixXd = glora::MatrixX<double>;

// Every code path of the backward: low-rank, vector and scalar in each slot.
using Layers =
    std::tuple<glora::Linear<double, LowRank<2>, LowRank<2>, LowRank<2>, Vector, Vector>,
               glora::Linear<double, Vector, Vector, Vector, Scalar, Scalar>,
               glora::Linear<double, Scalar, Scalar, Scalar, None, None>, glora::Linear<double>>;

}  // namespace

TEMPLATE_LIST_TEST_CASE("backward allocates nothing in the steady state", "[backward][allocation]",
                        Layers) {
  TestType layer(MatrixXd::Random(6, 5), MatrixXd::Random(6, 1));
  auto grads = glora::zeros_like(layer.adapter());
  const MatrixXd X = MatrixXd::Random(5, 4);
  const MatrixXd dY = MatrixXd::Random(6, 4);
  MatrixXd dX(5, 4);
  layer.backward(X, dY, grads, dX);  // sizes the workspace

  Eigen::internal::set_is_malloc_allowed(false);
  CHECK_NOTHROW(layer.backward(X, dY, grads, dX));
  Eigen::internal::set_is_malloc_allowed(true);
}

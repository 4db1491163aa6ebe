// forward(X, Y) at a batch size seen before allocates nothing, for every kind
// of every slot, with and without a frozen bias, over W0 in either storage
// order, at layer sizes where Eigen's own GEMM would take its packing buffers
// from the heap, nor do Dense's forward and backward, an adapter bank's mixed
// batches, the losses into caller storage or an optimiser step after the
// first; merge_into allocates only its scratch for the call, a few blocks
// however large the layer. Every heap allocation is counted (heap_counter.hpp).
#include "heap_counter.hpp"

#include <glora/glora.hpp>
#include <glora/serving.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using glora::LowRank;
using glora::None;
using glora::Scalar;
using glora::Vector;
using Index = Eigen::Index;

using glora_test::heap::allocations_during;

// 768 x 768, a ViT-B layer: big enough that Eigen's GEMM packing buffers
// exceed its stack limit; batches that take the streaming kernel (1), GEMM or
// the tiled path (16) and a full ViT sequence (197).
constexpr Index kOut = 768, kIn = 768;
const Index kBatches[] = {1, 16, 197};
constexpr long kMergeScratchBlocks = 6;

template <typename Layer>
void check_no_alloc() {
  using T = typename Layer::scalar_type;
  for (const bool row_major : {false, true}) {
    for (const bool with_bias : {true, false}) {
      INFO((row_major ? "row-major" : "column-major") << " W0");
      const glora::MatrixX<T> W0 = glora::MatrixX<T>::Random(kOut, kIn);
      const glora::VectorX<T> b0 = glora::VectorX<T>::Random(kOut);
      Layer layer = row_major ? (with_bias ? Layer(glora::RowMajorMatrixX<T>(W0), b0)
                                           : Layer(glora::RowMajorMatrixX<T>(W0)))
                              : (with_bias ? Layer(W0, b0) : Layer(W0));
      layer.adapter().for_each_tensor([](const char*, glora::Role, auto t) { t.setRandom(); });
      for (Index batch : kBatches) {
        const glora::MatrixX<T> X = glora::MatrixX<T>::Random(kIn, batch);
        glora::MatrixX<T> Y(kOut, batch);
        glora::Workspace<T> workspace;
        layer.forward(X, Y);             // sizes the layer's workspace
        layer.forward(X, Y, workspace);  // and a caller's
        INFO("bias " << with_bias << ", batch " << batch);
        CHECK(allocations_during([&] { layer.forward(X, Y); }) == 0);
        CHECK(allocations_during([&] { layer.forward(X, Y, workspace); }) == 0);
      }
      glora::MatrixX<T> W(kOut, kIn);
      glora::VectorX<T> b(kOut);
      layer.merge_into(W, b);
      // Its scratch: the prompt c, and per thread a tile, the packed low-rank
      // factors of A and B, the line factors of a tile's row-major lines, or a
      // high-rank product and the GEMM's two packing buffers for it.
      CHECK(allocations_during([&] { layer.merge_into(W, b); }) <= kMergeScratchBlocks);
    }
  }
}

}  // namespace

TEST_CASE("the heap counter sees every kind of allocation", "[no_alloc]") {
  // Kept where the optimiser cannot drop the allocation behind it.
  static const void* volatile kept = nullptr;
  CHECK(allocations_during([] { kept = std::vector<float>(100).data(); }) >= 1);
  CHECK(allocations_during([] { kept = glora::MatrixX<float>(200, 300).data(); }) >= 1);
  CHECK(allocations_during([] { kept = std::string(200, 'x').data(); }) >= 1);
  // Each of the C allocator's entry points, one block each.
  void* block = nullptr;
  CHECK(allocations_during([&] { kept = block = std::calloc(10, 8); }) == 1);
  CHECK(allocations_during([&] { kept = block = std::realloc(block, 4096); }) == 1);
  std::free(block);
  CHECK(allocations_during([&] { kept = block = std::aligned_alloc(64, 640); }) == 1);
  std::free(block);
  int status = -1;
  CHECK(allocations_during([&] {
          status = posix_memalign(&block, 64, 640);
          kept = block;
        }) == 1);
  CHECK(status == 0);
  std::free(block);
  CHECK(allocations_during([] {}) == 0);
  CHECK(kept != nullptr);
}

TEMPLATE_TEST_CASE("forward allocates nothing in steady state", "[no_alloc]", float, double) {
  using T = TestType;
  SECTION("LoRA") { check_no_alloc<glora::Linear<T, None, LowRank<4>>>(); }
  SECTION("full") {
    check_no_alloc<glora::Linear<T, LowRank<4>, LowRank<4>, LowRank<4>, Vector, Vector>>();
  }
  SECTION("cheap") {
    check_no_alloc<glora::Linear<T, Vector, LowRank<4>, Vector, Scalar, Vector>>();
  }
  SECTION("low-rank A without C") { check_no_alloc<glora::Linear<T, LowRank<2>, Vector>>(); }
  SECTION("high-rank A and B") {
    // Each tile's factor product is a GEMM whose packing buffers exceed
    // Eigen's stack limit (rank 160 of a 256 x 256 tile: 160 KB in float).
    check_no_alloc<glora::Linear<T, LowRank<160>, LowRank<160>>>();
  }
  SECTION("low-rank A, vector C") {
    check_no_alloc<glora::Linear<T, LowRank<8>, None, Vector, Vector, Scalar>>();
  }
  SECTION("scalar A and B, scalar C") {
    check_no_alloc<glora::Linear<T, Scalar, Scalar, Scalar, Scalar, None>>();
  }
  SECTION("vector B, low-rank C") { check_no_alloc<glora::Linear<T, None, Vector, LowRank<2>>>(); }
  SECTION("vector A, scalar B, no C") {
    check_no_alloc<glora::Linear<T, Vector, Scalar, None, Vector, Vector>>();
  }
  SECTION("frozen layer") { check_no_alloc<glora::Linear<T>>(); }
}

TEST_CASE("losses and optimiser steps allocate nothing in steady state", "[no_alloc]") {
  using Matrix = glora::MatrixX<float>;
  const Matrix Y = Matrix::Random(10, 32);
  const Matrix target = Matrix::Random(10, 32);
  Matrix dY(10, 32);
  std::vector<int> labels(32);
  for (std::size_t n = 0; n < labels.size(); ++n) labels[n] = static_cast<int>(n % 10);
  CHECK(allocations_during([&] { glora::mean_squared_error(Y, target, dY); }) == 0);
  CHECK(allocations_during([&] { glora::softmax_cross_entropy(Y, labels, dY); }) == 0);
  // Row-major storage is used as it is, not copied.
  const glora::RowMajorMatrixX<float> Y_rows = Y;
  glora::RowMajorMatrixX<float> dY_rows(10, 32);
  CHECK(allocations_during([&] { glora::mean_squared_error(Y_rows, target, dY_rows); }) == 0);
  CHECK(allocations_during([&] { glora::softmax_cross_entropy(Y_rows, labels, dY_rows); }) == 0);

  glora::Linear<float, LowRank<4>, Vector, Vector, Scalar, Vector> layer(Matrix::Random(10, 12),
                                                                         Matrix::Random(10, 1));
  glora::Dense<float> dense(Matrix::Random(10, 12), Matrix::Random(10, 1));
  auto grads = glora::zeros_like(layer.adapter());
  auto dense_grads = glora::zeros_like(dense);
  glora::AdamW<float> adam;
  glora::SGD<float> sgd;
  adam.step(layer.adapter(), grads);  // the first steps make the optimisers' state
  sgd.step(dense, dense_grads);
  CHECK(allocations_during([&] { adam.step(layer.adapter(), grads); }) == 0);
  CHECK(allocations_during([&] { sgd.step(dense, dense_grads); }) == 0);
}

TEMPLATE_TEST_CASE("Dense::forward and backward allocate nothing in steady state", "[no_alloc]",
                   float, double) {
  using T = TestType;
  const glora::Dense<T> dense(glora::MatrixX<T>::Random(kOut, kIn),
                              glora::VectorX<T>::Random(kOut));
  glora::Dense<T> grads(glora::MatrixX<T>::Zero(kOut, kIn), glora::VectorX<T>::Zero(kOut));
  for (Index batch : kBatches) {
    const glora::MatrixX<T> X = glora::MatrixX<T>::Random(kIn, batch);
    glora::MatrixX<T> Y(kOut, batch);
    glora::MatrixX<T> dX(kIn, batch);
    glora::Workspace<T> workspace;
    dense.forward(X, Y);
    dense.forward(X, Y, workspace);
    dense.backward(X, Y, grads, dX);
    INFO("batch " << batch);
    CHECK(allocations_during([&] { dense.forward(X, Y); }) == 0);
    CHECK(allocations_during([&] { dense.forward(X, Y, workspace); }) == 0);
    CHECK(allocations_during([&] { dense.backward(X, Y, grads, dX); }) == 0);
  }
}

/// Runs each batch once to size a bank's workspaces, then checks that each
/// batch again, and each batch of `regrouped` (no larger than those, with other
/// adapters, groupings or orders, on the paths those took), allocates nothing.
template <typename Bank>
void check_bank_batches(Bank& bank, const std::vector<std::vector<std::string>>& batches,
                        const std::vector<std::vector<std::string>>& regrouped) {
  using T = typename Bank::scalar_type;
  glora::BankWorkspace<T> workspace;
  for (const auto& keys : batches) {
    const glora::MatrixX<T> X = glora::MatrixX<T>::Random(kIn, Index(keys.size()));
    glora::MatrixX<T> Y(kOut, X.cols());
    bank.forward(X, keys, Y);
    bank.forward(X, keys, Y, workspace);
  }
  for (const auto* set : {&batches, &regrouped}) {
    for (const auto& keys : *set) {
      const glora::MatrixX<T> X = glora::MatrixX<T>::Random(kIn, Index(keys.size()));
      glora::MatrixX<T> Y(kOut, X.cols());
      INFO(keys.size() << " columns");
      CHECK(allocations_during([&] { bank.forward(X, keys, Y); }) == 0);
      CHECK(allocations_during([&] { bank.forward(X, keys, Y, workspace); }) == 0);
    }
  }
}

template <typename Bank>
void check_bank_no_alloc(Bank& bank, const std::vector<std::string>& names) {
  // One adapter for all; sixteen each their own; 64 columns of one adapter.
  // Then, on the tiled path as the last, 10 columns of three groups out of
  // order, and 64 columns of two adapters interleaved: groups narrow enough
  // for the streaming kernel on each tile, which over a row-major W0 takes
  // tiles of another shape than one group of 64 does.
  std::vector<std::string> other(10, names[5]);
  other[3] = names[9];
  other[7] = "";
  std::vector<std::string> split(64, names[2]);
  for (std::size_t j = 0; j < split.size(); j += 2) split[j] = names[3];
  check_bank_batches(bank, {{names[0]}, names, std::vector<std::string>(64, names[1])},
                     {other, split});
  // A mix with base columns, wide enough for several blocks of the tiled path.
  std::vector<std::string> mix;
  for (int j = 0; j < 300; ++j) mix.push_back(j % 7 == 0 ? "" : names[std::size_t(j % 3)]);
  check_bank_batches(bank, {mix}, {});
}

TEMPLATE_TEST_CASE("a bank's mixed batches allocate nothing in steady state", "[no_alloc]", float,
                   double) {
  using T = TestType;
  using Full = glora::Adapter<T, LowRank<4>, LowRank<4>, LowRank<4>, Vector, Vector>;
  const glora::MatrixX<T> W0 = glora::MatrixX<T>::Random(kOut, kIn);
  const glora::RowMajorMatrixX<T> W0_rows = W0;
  const glora::VectorX<T> b0 = glora::VectorX<T>::Random(kOut);
  glora::AdapterBank<Full> bank(W0, b0);
  glora::AdapterBankView<Full> row_major_bank(W0_rows, b0);
  std::vector<std::string> names;
  for (int a = 0; a < 16; ++a) {
    Full adapter(kOut, kIn);
    adapter.for_each_tensor([](const char*, glora::Role, auto t) { t.setRandom(); });
    names.push_back("tenant-" + std::to_string(a));
    bank.add(names.back(), adapter);
    row_major_bank.add(names.back(), adapter);
  }
  SECTION("column-major W0") { check_bank_no_alloc(bank, names); }
  SECTION("row-major W0") { check_bank_no_alloc(row_major_bank, names); }
}

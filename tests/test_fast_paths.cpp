// The fast paths of forward and merge (streaming kernel, Eigen GEMM on kept
// buffers, tiled materialisation, blocks of a wide batch) against the layer's
// formula written out with loops, on shapes that cross every row chunk, column
// block and tile boundary of the kernels: sizes that are not multiples of a
// tile, rank 1, batch 1, batches of hundreds.
//
//   W = W0 + W0 ⊙ A + B,   b = b0 + b0 ⊙ D + E + W0 c,   y = W x + b
#include "reference_formula.hpp"

#include <glora/glora.hpp>

#include <catch2/catch.hpp>

#include <limits>
#include <string>
#include <vector>

namespace {

using glora::LowRank;
using glora::None;
using glora::Scalar;
using glora::Vector;
using Index = Eigen::Index;
using Real = long double;

/// The plain formula of reference_formula.hpp: the merged W and b in long
/// double (exact), and the same formula on the magnitudes of every input (size:
/// the sum of the terms behind each entry, which bounds its rounding error).
struct Plain {
  glora_test::Reference exact, size;
};

template <typename Layer>
Plain plain_layer(const Layer& layer) {
  using T = typename Layer::scalar_type;
  const glora::MatrixX<T> W0 = layer.weight();
  const glora::VectorX<T> b0 = layer.bias();
  const glora::VectorX<T>* bias = layer.has_bias() ? &b0 : nullptr;
  return {glora_test::reference_layer(W0, bias, layer.adapter()),
          glora_test::reference_layer(W0, bias, layer.adapter(), true)};
}

template <typename T>
Real tolerance(Index terms) {
  return Real(std::numeric_limits<T>::epsilon()) * Real(4 * terms + 16);
}

template <typename Layer>
Layer make_layer(Index m, Index n, bool with_bias, unsigned seed) {
  using T = typename Layer::scalar_type;
  std::srand(seed);
  using M = glora::MatrixX<T>;
  using V = glora::VectorX<T>;
  Layer layer = with_bias ? Layer(M::Random(m, n), V::Random(m)) : Layer(M::Random(m, n));
  layer.adapter().for_each_tensor([](const char*, glora::Role, auto t) { t.setRandom(); });
  return layer;
}

// Each check returns its first mismatch (glora_test::mismatch, which no NaN
// passes), or an empty string when all entries agree.
template <typename Layer>
std::string forward_mismatch(const Layer& layer, const Plain& plain, Index batch) {
  using T = typename Layer::scalar_type;
  const Index m = layer.out_features(), n = layer.in_features();
  const glora::MatrixX<T> X = glora::MatrixX<T>::Random(n, batch);
  glora::MatrixX<T> Y(m, batch);
  layer.forward(X, Y);
  // The plain product in long double, and the same product of the magnitudes
  // (what bounds the rounding error of each output).
  const glora_test::RealMatrix x = X.template cast<Real>();
  const std::string why = glora_test::mismatch(
      Y, plain.exact.forward(x), plain.size.forward(x.cwiseAbs()), tolerance<T>(n + 8));
  if (why.empty()) return why;
  return "forward (m " + std::to_string(m) + ", n " + std::to_string(n) + ", batch " +
         std::to_string(batch) + "): " + why;
}

template <typename Layer>
std::string merge_mismatch(const Layer& layer, const Plain& plain) {
  using T = typename Layer::scalar_type;
  const Index m = layer.out_features(), n = layer.in_features();
  const glora::Dense<T> merged = layer.merge();
  const Real tol = tolerance<T>(n + 8);
  const std::string where = " (m " + std::to_string(m) + ", n " + std::to_string(n) + "): ";
  std::string why = glora_test::mismatch(merged.weight, plain.exact.W, plain.size.W, tol);
  if (!why.empty()) return "merge: W" + where + why;
  why = glora_test::mismatch(merged.bias, plain.exact.b, plain.size.b, tol);
  if (!why.empty()) return "merge: b" + where + why;
  return "";
}

// Rows cross the streaming kernel's chunks (up to 64 rows) and row blocks
// (2048), and the forward tile (256); 1024 rows make a column stride of 4 KB or
// 8 KB, which changes the kernel's loop order. Columns cross its 6-, 8- and
// 16-column sweeps and the 256-column tiles; the batches go from the streaming
// kernel (1 to 3 columns of S) to GEMM and the tiled path.
const Index kRows[] = {1, 7, 67, 300, 1024, 2053};
const Index kCols[] = {1, 17, 300};
const Index kBatches[] = {1, 2, 3, 9};
// Wide batches: the forward goes in blocks of 256 columns (256 / (1 + r) when a
// rank-r A stacks r more columns per sample), tiles of 256 output rows and
// weight tiles of 256 columns; 300 x 270 at these batches crosses each.
const Index kWideBatches[] = {60, 300};

template <typename Layer>
void check_layer() {
  unsigned seed = 1;
  for (bool with_bias : {true, false}) {
    for (Index m : kRows) {
      for (Index n : kCols) {
        // The tall layers are there for their column strides and row blocks;
        // 17 columns already cross every column sweep.
        if (m >= 1024 && n > 17) continue;
        const Layer layer = make_layer<Layer>(m, n, with_bias, seed++);
        const Plain plain = plain_layer(layer);
        for (Index batch : kBatches) CHECK(forward_mismatch(layer, plain, batch) == "");
        CHECK(merge_mismatch(layer, plain) == "");
      }
    }
  }
  const Layer wide = make_layer<Layer>(300, 270, true, seed);
  const Plain plain = plain_layer(wide);
  for (Index batch : kWideBatches) CHECK(forward_mismatch(wide, plain, batch) == "");
}

}  // namespace

TEMPLATE_TEST_CASE("fast paths match the plain formula", "[fast_paths]", float, double) {
  using T = TestType;
  SECTION("LoRA: low-rank B") { check_layer<glora::Linear<T, None, LowRank<4>>>(); }
  SECTION("full: low-rank A, B, C; vector D, E") {
    check_layer<glora::Linear<T, LowRank<4>, LowRank<4>, LowRank<4>, Vector, Vector>>();
  }
  SECTION("cheap: vector A and C, low-rank B, scalar D, vector E") {
    check_layer<glora::Linear<T, Vector, LowRank<4>, Vector, Scalar, Vector>>();
  }
  SECTION("rank-1 A with a scalar prompt") {
    check_layer<glora::Linear<T, LowRank<1>, None, Scalar>>();
  }
  SECTION("rank-1 A alone") { check_layer<glora::Linear<T, LowRank<1>>>(); }
  SECTION("rank-8 A and B (the merge benchmark)") {
    check_layer<glora::Linear<T, LowRank<8>, LowRank<8>, None, Scalar, Scalar>>();
  }
  SECTION("rank-20 A and rank-17 B (products formed by GEMM in merge)") {
    check_layer<glora::Linear<T, LowRank<20>, LowRank<17>, Vector>>();
  }
  SECTION("scalar A and B, vector prompt") {
    check_layer<glora::Linear<T, Scalar, Scalar, Vector, None, Scalar>>();
  }
  SECTION("vector B, low-rank prompt, no A") {
    check_layer<glora::Linear<T, None, Vector, LowRank<2>, Vector>>();
  }
  SECTION("plain frozen layer") { check_layer<glora::Linear<T>>(); }
}

TEMPLATE_TEST_CASE("merge crosses its tiles of positions in either storage order", "[fast_paths]",
                   float, double) {
  // The merge packs A's and B's position factors once per call and walks them
  // in tiles of 512 positions: W0's rows when it is column-major, its columns
  // when it is row-major. 1101 positions make two whole tiles and a third
  // that ends inside a packet, whatever the packet size.
  using T = TestType;
  const auto randomise = [](auto& adapter) {
    adapter.for_each_tensor([](const char*, glora::Role, auto t) { t.setRandom(); });
  };
  SECTION("row-major W0, 1101 columns") {
    glora::RowMajorMatrixX<T> W0 = glora::MatrixX<T>::Random(5, 1101);
    glora::VectorX<T> b0 = glora::VectorX<T>::Random(5);
    glora::LinearView<T, LowRank<8>, LowRank<3>, LowRank<2>, Vector, Vector> view(W0, b0);
    randomise(view.adapter());
    CHECK(merge_mismatch(view, plain_layer(view)) == "");
  }
  SECTION("column-major W0, 1101 rows") {
    glora::Linear<T, LowRank<8>, LowRank<3>, LowRank<2>, Vector, Vector> layer(
        glora::MatrixX<T>::Random(1101, 5), glora::VectorX<T>::Random(1101));
    randomise(layer.adapter());
    CHECK(merge_mismatch(layer, plain_layer(layer)) == "");
  }
}

/// The tiled forward of a layer over W0 in either storage order, at batches
/// that reach each way it multiplies a tile (see the test case below), and
/// its merge.
template <typename Layer>
void check_tiled_products() {
  using T = typename Layer::scalar_type;
  std::srand(7);
  glora::MatrixX<T> column_major = glora::MatrixX<T>::Random(300, 600);
  glora::RowMajorMatrixX<T> row_major = column_major;
  glora::VectorX<T> b0 = glora::VectorX<T>::Random(300);
  Layer columns(column_major, b0);
  Layer rows(row_major, b0);
  columns.adapter().for_each_tensor([](const char*, glora::Role, auto t) { t.setRandom(); });
  rows.adapter() = columns.adapter();
  const Plain plain = plain_layer(columns);
  for (Index batch : {20, 40, 270}) {
    CHECK(forward_mismatch(columns, plain, batch) == "");
    CHECK(forward_mismatch(rows, plain, batch) == "");
  }
  // The merge forms the same terms on its own tiles, in W0's storage order.
  CHECK(merge_mismatch(columns, plain) == "");
  CHECK(merge_mismatch(rows, plain) == "");
}

TEMPLATE_TEST_CASE("the tiled forward's groups cross the streaming kernel's slices in either order",
                   "[fast_paths]", float, double) {
  // A low-rank A takes the tiled path from batch 2 on. Each tile meets a group
  // of up to 32 columns in slices of the streaming kernel (8 columns at most):
  // 20 columns make three, the last one short; 40 columns go to GEMM; 270 are
  // a block of 256 and one of 14. Over a row-major W0 a block of narrow groups
  // takes tiles of 128 x 512 when A is merged line by line (rank up to 16),
  // others 256 x 256: 300 x 600 ends inside a tile of each in both directions.
  using T = TestType;
  SECTION("rank-4 A (tiles of two shapes over a row-major W0)") {
    check_tiled_products<
        glora::LinearView<T, LowRank<4>, LowRank<4>, LowRank<4>, Vector, Vector>>();
  }
  SECTION("rank-20 A and rank-17 B (their tiles formed by a product)") {
    check_tiled_products<glora::LinearView<T, LowRank<20>, LowRank<17>, Vector>>();
  }
}

TEMPLATE_TEST_CASE("every way to pass a row-major W0 computes the same layer", "[fast_paths]",
                   float, double) {
  // A view of a row-major matrix, of a Map over raw storage, of the raw
  // pointer with its order stated, and an owning layer that keeps the order
  // it is given: each against the formula built from one column-major W0.
  using T = TestType;
  using Kinds = glora::Linear<T, LowRank<4>, LowRank<4>, LowRank<4>, Vector, Vector>;
  using View = glora::LinearView<T, LowRank<4>, LowRank<4>, LowRank<4>, Vector, Vector>;
  const Index m = 67, n = 300;
  const Kinds reference = make_layer<Kinds>(m, n, true, 11);
  const Plain plain = plain_layer(reference);
  glora::RowMajorMatrixX<T> W = reference.weight();
  std::vector<T> raw(W.data(), W.data() + W.size());
  glora::VectorX<T> b = reference.bias();
  Eigen::Map<glora::RowMajorMatrixX<T>> mapped(raw.data(), m, n);

  const auto check = [&](auto& layer, const char* route) {
    INFO(route);
    layer.adapter() = reference.adapter();
    for (Index batch : {1, 3, 20}) CHECK(forward_mismatch(layer, plain, batch) == "");
    CHECK(merge_mismatch(layer, plain) == "");
  };
  View of_matrix(W, b);
  check(of_matrix, "a view of a RowMajorMatrixX");
  View of_map(mapped, b);
  check(of_map, "a view of a row-major Map");
  View of_pointer(glora::row_major, raw.data(), m, n, b.data());
  check(of_pointer, "a view of a raw pointer, glora::row_major");
  Kinds owning(W, b);
  check(owning, "an owning layer given a RowMajorMatrixX");
}

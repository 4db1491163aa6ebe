// The kernels for a row-major W against the product written as a plain loop
// in long double, for every width of S they take: detail::stream_row_major_add
// (Z += W · S) and detail::tile_row_major_add (Zᵀ += (W · S)ᵀ, S given as Sᵀ).

#include <glora/detail/stream_row_major.hpp>
#include <glora/detail/tile_row_major.hpp>

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

using Index = Eigen::Index;
using glora::detail::stream_row_major_add;
using glora::detail::tile_row_major_add;

/// Rows and columns that fall below, on and above every multiple that matters:
/// the packet size (2 to 16 elements, by the SIMD Eigen targets and T), the
/// kernel's blocks of up to 8 rows (bands of 0 to 4 rows and a remainder), 0
/// and 1; 1031 columns make S too large for the kernel to count on L1 (more
/// than 32 KB at 8 floats or 4 doubles a row), where it may block rows
/// differently.
const Index kRows[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17, 19, 24, 25, 37};
const Index kCols[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49, 130, 1031};

/// A value of magnitude 0.5 to 1 and random sign: no product is small enough
/// to hide a term the kernel drops or counts twice.
template <typename T>
T random_value(std::mt19937& rng) {
  std::uniform_real_distribution<T> magnitude(T(0.5), T(1));
  return std::bernoulli_distribution(0.5)(rng) ? magnitude(rng) : -magnitude(rng);
}

/// Which kernel a check runs: stream_row_major_add on S and Z column-major,
/// or tile_row_major_add on S and Z given transposed (row j of Sᵀ, row i of Z
/// contiguous), with K a whole number of packets.
enum class Kernel { stream, tile };

/// Runs `kernel` once on a W (rows x cols, row-major), S (cols x K) and Z
/// (rows x K, already holding values) whose outer strides exceed their extents,
/// the elements between filled with NaN (W, S) or a marker (Z). Returns the
/// largest error of Z divided by its bound, NaN if any error is NaN; padding of
/// Z that changed counts as an infinite error.
///
/// The bound: Z(i, k) is z0 plus cols products, cols + 1 terms summed in an
/// order the kernel chooses, each product rounded at most once and each sum
/// once. Whatever the order, the error is at most (cols + 1) u (|z0| + the sum
/// of |W(i, j) S(j, k)|) to first order, u = epsilon / 2; the bound takes twice
/// that. A term dropped or counted twice is off by 0.25 at least.
template <typename T>
double worst_error(Kernel kernel, Index rows, Index cols, Index K, std::mt19937& rng) {
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const T marker = T(1234.5);
  const bool transposed = kernel == Kernel::tile;
  const Index ldw = cols + 3;
  const Index lds = transposed ? K + 5 : cols + 5, ldz = transposed ? K + 2 : rows + 2;
  const auto size = [](Index n) { return static_cast<std::size_t>(n); };
  const auto s_at = [&](Index j, Index k) { return size(transposed ? j * lds + k : k * lds + j); };
  const auto z_at = [&](Index i, Index k) { return size(transposed ? i * ldz + k : k * ldz + i); };
  std::vector<T> w(size(rows * ldw), nan), s(size((transposed ? cols : K) * lds), nan),
      z(size((transposed ? rows : K) * ldz), marker);
  std::vector<bool> in_z(z.size(), false);
  for (Index i = 0; i < rows; ++i) {
    for (Index j = 0; j < cols; ++j) w[size(i * ldw + j)] = random_value<T>(rng);
  }
  for (Index k = 0; k < K; ++k) {
    for (Index j = 0; j < cols; ++j) s[s_at(j, k)] = random_value<T>(rng);
    for (Index i = 0; i < rows; ++i) {
      z[z_at(i, k)] = random_value<T>(rng);
      in_z[z_at(i, k)] = true;
    }
  }
  const std::vector<T> z0 = z;

  if (transposed) {
    const Index packets = K / Eigen::internal::packet_traits<T>::size;
    tile_row_major_add(w.data(), ldw, rows, cols, s.data(), lds, packets, z.data(), ldz);
  } else {
    stream_row_major_add(w.data(), ldw, rows, cols, s.data(), lds, K, z.data(), ldz);
  }

  double worst = 0;
  for (Index k = 0; k < K; ++k) {
    for (Index i = 0; i < rows; ++i) {
      long double exact = z0[z_at(i, k)];
      long double magnitude = std::abs(exact);
      for (Index j = 0; j < cols; ++j) {
        const long double term = static_cast<long double>(w[size(i * ldw + j)]) * s[s_at(j, k)];
        exact += term;
        magnitude += std::abs(term);
      }
      const long double error = std::abs(z[z_at(i, k)] - exact);
      const long double bound =
          static_cast<long double>(cols + 1) * std::numeric_limits<T>::epsilon() * magnitude;
      const double ratio = static_cast<double>(error / bound);
      if (std::isnan(ratio)) return ratio;
      worst = std::max(worst, ratio);
    }
  }
  for (std::size_t e = 0; e < z.size(); ++e) {
    if (!in_z[e] && z[e] != marker) return std::numeric_limits<double>::infinity();
  }
  return worst;
}

template <typename T>
void check_every_shape() {
  std::mt19937 rng(42);
  for (Index K = 1; K <= 8; ++K) {
    for (const Index rows : kRows) {
      for (const Index cols : kCols) {
        INFO("W " << rows << " x " << cols << ", S " << cols << " x " << K);
        CHECK(worst_error<T>(Kernel::stream, rows, cols, K, rng) <= 1.0);
      }
    }
  }
}

/// tile_row_major_add: 1 to 9 packets of columns (passes of up to 4, one
/// short), rows that leave every remainder of its passes of 8, 4, 2 and 1.
template <typename T>
void check_every_tile_shape() {
  constexpr Index P = Eigen::internal::packet_traits<T>::size;
  const Index cols[] = {0, 1, 2, 3, 17, 130};
  std::mt19937 rng(7);
  for (Index packets = 1; packets <= 9; ++packets) {
    for (const Index rows : kRows) {
      for (const Index n : cols) {
        INFO("W " << rows << " x " << n << ", S " << n << " x " << packets * P);
        CHECK(worst_error<T>(Kernel::tile, rows, n, packets * P, rng) <= 1.0);
      }
    }
  }
}

}  // namespace

TEST_CASE("stream_row_major_add matches the plain loop, float", "[stream]") {
  check_every_shape<float>();
}

TEST_CASE("stream_row_major_add matches the plain loop, double", "[stream]") {
  check_every_shape<double>();
}

TEST_CASE("tile_row_major_add matches the plain loop, float", "[stream]") {
  check_every_tile_shape<float>();
}

TEST_CASE("tile_row_major_add matches the plain loop, double", "[stream]") {
  check_every_tile_shape<double>();
}

TEST_CASE("stream_row_major_add with no column of S leaves Z alone", "[stream]") {
  const float w[4] = {1, 2, 3, 4}, s[2] = {5, 6};
  float z[2] = {7, 8};
  stream_row_major_add(w, 2, 2, 2, s, 2, 0, z, 2);
  CHECK(z[0] == 7);
  CHECK(z[1] == 8);
}

TEST_CASE("stream_row_major_add rejects what it cannot read, before writing", "[stream]") {
  // W 2 x 2 = [1 2; 3 4] row-major, S = [5; 6]
  const float w[4] = {1, 2, 3, 4}, s[2] = {5, 6};
  float z[2] = {7, 8};
  const auto call = [&](Index ldw, Index rows, Index cols, Index lds, Index K, Index ldz) {
    stream_row_major_add(w, ldw, rows, cols, s, lds, K, z, ldz);
  };
  CHECK_THROWS_WITH(call(2, 2, 2, 2, 9, 2),
                    "stream_row_major_add: S has 9 columns, expected 0 to 8");
  CHECK_THROWS_WITH(call(2, 2, 2, 2, -1, 2),
                    "stream_row_major_add: S has -1 columns, expected 0 to 8");
  CHECK_THROWS_WITH(call(2, -2, 2, 2, 1, 2), "stream_row_major_add: W is -2 x 2, a negative size");
  CHECK_THROWS_WITH(call(2, 2, -1, 2, 1, 2), "stream_row_major_add: W is 2 x -1, a negative size");
  CHECK_THROWS_WITH(call(1, 2, 2, 2, 1, 2),
                    "stream_row_major_add: W's row stride is 1, less than its 2 columns");
  CHECK_THROWS_WITH(call(2, 2, 2, 1, 1, 2),
                    "stream_row_major_add: S's column stride is 1, less than its 2 rows");
  CHECK_THROWS_WITH(call(2, 2, 2, 2, 1, 1),
                    "stream_row_major_add: Z's column stride is 1, less than its 2 rows");
  CHECK(z[0] == 7);
  CHECK(z[1] == 8);
  call(2, 2, 2, 2, 1, 2);  // the same arguments, valid: Z += W S = [17; 39]
  CHECK(z[0] == 7 + 17);
  CHECK(z[1] == 8 + 39);
}

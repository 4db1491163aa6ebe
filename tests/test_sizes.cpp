// A None slot "contributes nothing, stores nothing" (docs/contract.md,
// "Kinds per slot"): an
// all-None adapter is as small as an empty struct, and a None slot adds no
// bytes next to the slots that do store something.
#include <glora/glora.hpp>

#include <catch2/catch.hpp>

#include <type_traits>

using glora::Adapter;
using glora::LowRank;
using glora::None;
using glora::Scalar;
using glora::Vector;

namespace {

struct Empty {};

template <class Ad>
using slot_A = decltype(std::declval<Ad&>().A);
template <class Ad>
using slot_B = decltype(std::declval<Ad&>().B);
template <class Ad>
using slot_C = decltype(std::declval<Ad&>().C);
template <class Ad>
using slot_D = decltype(std::declval<Ad&>().D);
template <class Ad>
using slot_E = decltype(std::declval<Ad&>().E);

}  // namespace

TEMPLATE_TEST_CASE("an all-None adapter is an empty struct", "[sizes]", float, double) {
  using T = TestType;
  using Ad = Adapter<T, None, None, None, None, None>;
  STATIC_REQUIRE(sizeof(Ad) == sizeof(Empty));
  STATIC_REQUIRE(sizeof(Adapter<T>) == 1);
  STATIC_REQUIRE(std::is_empty_v<Ad>);
  STATIC_REQUIRE(std::is_empty_v<std::remove_reference_t<slot_A<Ad>>>);
  STATIC_REQUIRE(std::is_empty_v<std::remove_reference_t<slot_E<Ad>>>);
}

TEMPLATE_TEST_CASE("a None slot adds nothing to the adapter", "[sizes]", float, double) {
  using T = TestType;
  using MatrixT = glora::MatrixX<T>;
  using VectorT = glora::VectorX<T>;

  // One stored slot, the four others None: the adapter is that slot alone,
  // wherever the stored slot sits.
  STATIC_REQUIRE(sizeof(Adapter<T, Scalar>) == sizeof(T));
  STATIC_REQUIRE(sizeof(Adapter<T, None, Scalar>) == sizeof(T));
  STATIC_REQUIRE(sizeof(Adapter<T, None, None, Scalar>) == sizeof(T));
  STATIC_REQUIRE(sizeof(Adapter<T, None, None, None, Scalar>) == sizeof(T));
  STATIC_REQUIRE(sizeof(Adapter<T, None, None, None, None, Scalar>) == sizeof(T));

  STATIC_REQUIRE(sizeof(Adapter<T, Vector>) == sizeof(VectorT));
  STATIC_REQUIRE(sizeof(Adapter<T, None, None, Vector>) == sizeof(VectorT));
  STATIC_REQUIRE(sizeof(Adapter<T, None, None, None, None, Vector>) == sizeof(VectorT));

  STATIC_REQUIRE(sizeof(Adapter<T, LowRank<4>>) == 2 * sizeof(MatrixT));
  STATIC_REQUIRE(sizeof(Adapter<T, None, LowRank<1>>) == 2 * sizeof(MatrixT));
  STATIC_REQUIRE(sizeof(Adapter<T, None, None, LowRank<2>>) == 2 * sizeof(MatrixT));

  // Several stored slots: the None ones in between still add nothing.
  using Sparse = Adapter<T, LowRank<2>, None, Vector, None, Vector>;
  using Dense = Adapter<T, LowRank<2>, Vector, Vector>;
  STATIC_REQUIRE(sizeof(Sparse) ==
                 sizeof(slot_A<Sparse>) + sizeof(slot_C<Sparse>) + sizeof(slot_E<Sparse>));
  STATIC_REQUIRE(sizeof(Sparse) == sizeof(Dense));
  STATIC_REQUIRE(std::is_empty_v<std::remove_reference_t<slot_B<Sparse>>>);
  STATIC_REQUIRE(std::is_empty_v<std::remove_reference_t<slot_D<Sparse>>>);
}

#pragma once
// Adapter<T, A, B, C, D, E>: the five support tensors of one GLoRA layer, and
// the walks over them (initialisation, zeroing, counting, naming).

#include <glora/kinds.hpp>
#include <glora/parameters.hpp>
#include <glora/support.hpp>

#include <Eigen/Core>

#include <cstdint>
#include <type_traits>

namespace glora {

namespace detail {
// A forbidden kind has already failed its static_assert; store nothing for it
// so that one readable message is all the user sees.
template <typename K, bool allowed>
using stored_kind = std::conditional_t<allowed, K, None>;
}  // namespace detail

/// The learned part of a GLoRA layer with out x in frozen weight W0.
///
/// Members A..E hold the support tensors (see Support for their shapes).
/// A None member is empty and takes no space.
template <typename T, typename KA = None, typename KB = None, typename KC = None,
          typename KD = None, typename KE = None>
struct Adapter {
  static_assert(std::is_floating_point_v<T>, "glora: the scalar type must be float or double");
  static_assert(is_kind_v<KA>, "glora: slot A takes None, Scalar, Vector or LowRank<R>");
  static_assert(is_kind_v<KB>, "glora: slot B takes None, Scalar, Vector or LowRank<R>");
  static_assert(is_kind_v<KC>, "glora: slot C takes None, Scalar, Vector or LowRank<R>");
  static_assert(is_kind_v<KD> && !is_low_rank_v<KD>,
                "glora: slot D takes Vector, Scalar or None (LowRank is not allowed for D)");
  static_assert(is_kind_v<KE> && !is_low_rank_v<KE>,
                "glora: slot E takes Vector, Scalar or None (LowRank is not allowed for E)");

  static_assert(positive_rank_v<KA> && positive_rank_v<KB> && positive_rank_v<KC>,
                "glora::LowRank<R>: the rank R must be positive");

  using scalar_type = T;
  using kind_a = KA;
  using kind_b = KB;
  using kind_c = KC;
  using kind_d = KD;
  using kind_e = KE;

  [[no_unique_address]] Support<T, Slot::A, detail::stored_kind<KA, is_kind_v<KA>>> A;
  [[no_unique_address]] Support<T, Slot::B, detail::stored_kind<KB, is_kind_v<KB>>> B;
  [[no_unique_address]] Support<T, Slot::C, detail::stored_kind<KC, is_kind_v<KC>>> C;
  [[no_unique_address]] Support<T, Slot::D,
                                detail::stored_kind<KD, is_kind_v<KD> && !is_low_rank_v<KD>>>
      D;
  [[no_unique_address]] Support<T, Slot::E,
                                detail::stored_kind<KE, is_kind_v<KE> && !is_low_rank_v<KE>>>
      E;

  Adapter() = default;
  /// Zero-filled tensors for a layer whose frozen weight is out x in.
  Adapter(Eigen::Index out, Eigen::Index in)
      : A(out, in), B(out, in), C(out, in), D(out, in), E(out, in) {}

  /// Calls f(name, role, tensor) for every tensor, in the order
  /// Ad, Au, Bd, Bu, Cd, Cu, D, E (absent ones skipped). `tensor` is an
  /// Eigen::Map over the stored values: writable here, read-only on a const adapter.
  template <typename F>
  void for_each_tensor(F&& f) {
    visit(f, *this);
  }
  template <typename F>
  void for_each_tensor(F&& f) const {
    visit(f, *this);
  }

  /// Calls f(name, role, t...) for every tensor, in the order of
  /// for_each_tensor, with t the matching tensor of each of `a` (adapters of
  /// this type and equal shapes): how parameters, gradients and optimiser
  /// state are walked together. The one place that lists the slots.
  template <typename F, typename... Same>
  static void visit(F&& f, Same&... a) {
    decltype(A)::visit(f, a.A...);
    decltype(B)::visit(f, a.B...);
    decltype(C)::visit(f, a.C...);
    decltype(D)::visit(f, a.D...);
    decltype(E)::visit(f, a.E...);
  }

  /// Throws shape_error unless every tensor has its shape for an out x in
  /// layer; the message names the call `where` and the tensor behind the
  /// prefix `owner` (e.g. "grads.").
  void check(const detail::Call& where, const char* owner, Eigen::Index out,
             Eigen::Index in) const {
    A.check(where, owner, out, in);
    B.check(where, owner, out, in);
    C.check(where, owner, out, in);
    D.check(where, owner, out, in);
    E.check(where, owner, out, in);
  }

  /// The reference initialisation: downs, vectors and scalars zero; each up
  /// (r x k) drawn from U(-a, a) with a = sqrt(6 / (k + r)). The adapted layer
  /// then equals the frozen one exactly. The same seed gives the same tensors
  /// on every platform.
  void initialize(std::uint64_t seed) { detail::initialize_tensors(*this, seed); }

  /// Zeroes downs, vectors and scalars (ups are kept), so that the layer
  /// equals its frozen base again.
  void reset_to_identity() { detail::reset_to_identity(*this); }
};

}  // namespace glora

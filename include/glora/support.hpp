#pragma once
// Support<T, S, K>: the storage of one support tensor (slot S, kind K), and the
// one place that knows its shape and the names of its tensors.

#include <glora/errors.hpp>
#include <glora/kinds.hpp>

#include <Eigen/Core>

#include <string>
#include <type_traits>

namespace glora {

template <typename T>
using MatrixX = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
template <typename T>
using VectorX = Eigen::Matrix<T, Eigen::Dynamic, 1>;

/// What a tensor is to the reference initialisation: ups are drawn
/// Xavier-uniform, downs and values start at zero.
enum class Role { down, up, value };

namespace detail {

// The reference's tensor names: Ad/Au ... Cd/Cu for the factors, the down
// name for a vector or scalar (it is column 0 of down in the supernet), and
// plain D and E.
constexpr const char* down_name(Slot s) {
  switch (s) {
    case Slot::A: return "Ad";
    case Slot::B: return "Bd";
    case Slot::C: return "Cd";
    case Slot::D: return "D";
    case Slot::E: return "E";
  }
  return "?";
}
constexpr const char* up_name(Slot s) {
  switch (s) {
    case Slot::A: return "Au";
    case Slot::B: return "Bu";
    case Slot::C: return "Cu";
    default: return "?";
  }
}

/// Entries per vector: one per output row, except C which lives on the input side.
constexpr Eigen::Index vector_size(Slot s, Eigen::Index out, Eigen::Index in) {
  return s == Slot::C ? in : out;
}

/// A stored tensor (matrix, vector or single number) seen as an Eigen::Map of
/// a matrix, read-only when the storage is const: the one shape in which
/// every tensor is visited.
template <typename Storage>
auto as_matrix(Storage& x) {
  using Plain = std::remove_const_t<Storage>;
  if constexpr (std::is_arithmetic_v<Plain>) {
    using Matrix =
        std::conditional_t<std::is_const_v<Storage>, const MatrixX<Plain>, MatrixX<Plain>>;
    return Eigen::Map<Matrix>(&x, 1, 1);
  } else {
    using Scalar = typename Plain::Scalar;
    using Matrix =
        std::conditional_t<std::is_const_v<Storage>, const MatrixX<Scalar>, MatrixX<Scalar>>;
    return Eigen::Map<Matrix>(x.data(), x.rows(), x.cols());
  }
}

/// Throws shape_error unless `t`, member `member` of slot s behind the prefix
/// `owner` (reference name `name`), is rows x cols: with owner "grads.",
/// "<call>: grads.A.down (Ad) is 0 x 0, expected 8 x 4".
template <typename Derived>
void check_tensor(const Call& where, const char* owner, Slot s, const char* member,
                  const char* name, const Eigen::EigenBase<Derived>& t, Eigen::Index rows,
                  Eigen::Index cols) {
  if (t.rows() == rows && t.cols() == cols) return;  // forward checks on every call: no string
  const std::string what = std::string(owner) + slot_letter(s) + "." + member + " (" + name + ")";
  check_shape(where, what.c_str(), t, rows, cols);
}

}  // namespace detail

/// Primary template: specialised below for each kind.
template <typename T, Slot S, typename K>
struct Support;

/// An absent slot: no storage, no work.
template <typename T, Slot S>
struct Support<T, S, None> {
  using kind = None;
  Support() = default;
  Support(Eigen::Index /*out*/, Eigen::Index /*in*/) {}
  template <typename F, typename... Same>
  static void visit(F&& /*f*/, Same&... /*s*/) {}
  void check(const detail::Call&, const char*, Eigen::Index, Eigen::Index) const {}
};

/// One number for the whole slot.
template <typename T, Slot S>
struct Support<T, S, Scalar> {
  using kind = Scalar;
  T value = T(0);

  Support() = default;
  Support(Eigen::Index /*out*/, Eigen::Index /*in*/) {}
  /// Calls f(name, role, t...) with the value of each of `s` seen as a 1 x 1 matrix.
  template <typename F, typename... Same>
  static void visit(F&& f, Same&... s) {
    f(detail::down_name(S), Role::value, detail::as_matrix(s.value)...);
  }
  void check(const detail::Call&, const char*, Eigen::Index, Eigen::Index) const {}
};

/// One number per output row (per input for slot C).
template <typename T, Slot S>
struct Support<T, S, Vector> {
  using kind = Vector;
  VectorX<T> value;

  Support() = default;
  Support(Eigen::Index out, Eigen::Index in)
      : value(VectorX<T>::Zero(detail::vector_size(S, out, in))) {}
  /// Calls f(name, role, t...) with the vector of each of `s` seen as a column.
  template <typename F, typename... Same>
  static void visit(F&& f, Same&... s) {
    f(detail::down_name(S), Role::value, detail::as_matrix(s.value)...);
  }
  /// Throws shape_error unless value has its size for an out x in layer.
  void check(const detail::Call& where, const char* owner, Eigen::Index out,
             Eigen::Index in) const {
    detail::check_tensor(where, owner, S, "value", detail::down_name(S), value,
                         detail::vector_size(S, out, in), 1);
  }
};

/// down · up of rank R. For A and B: down is out x R, up is R x in (the
/// product has W0's shape). For C: down is in x R, up is R x 1 (c has in entries).
template <typename T, Slot S, int R>
struct Support<T, S, LowRank<R>> {
  static_assert(S != Slot::D && S != Slot::E,
                "glora: LowRank is only allowed in slots A, B and C (D and E take Vector, Scalar "
                "or None)");
  using kind = LowRank<R>;
  static constexpr int rank = R;
  MatrixX<T> down;
  MatrixX<T> up;

  Support() = default;
  Support(Eigen::Index out, Eigen::Index in)
      : down(MatrixX<T>::Zero(down_rows(out, in), R)), up(MatrixX<T>::Zero(R, up_cols(in))) {}
  /// Calls f(name, role, t...) for down, then for up, of each of `s`.
  template <typename F, typename... Same>
  static void visit(F&& f, Same&... s) {
    f(detail::down_name(S), Role::down, detail::as_matrix(s.down)...);
    f(detail::up_name(S), Role::up, detail::as_matrix(s.up)...);
  }
  /// Throws shape_error unless down and up have their shapes for an out x in layer.
  void check(const detail::Call& where, const char* owner, Eigen::Index out,
             Eigen::Index in) const {
    detail::check_tensor(where, owner, S, "down", detail::down_name(S), down, down_rows(out, in),
                         R);
    detail::check_tensor(where, owner, S, "up", detail::up_name(S), up, R, up_cols(in));
  }

 private:
  static constexpr Eigen::Index down_rows(Eigen::Index out, Eigen::Index in) {
    return S == Slot::C ? in : out;
  }
  static constexpr Eigen::Index up_cols(Eigen::Index in) { return S == Slot::C ? 1 : in; }
};

}  // namespace glora

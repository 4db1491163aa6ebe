#pragma once
// DynamicAdapter<T>: the support tensors of a layer whose configuration is a
// run-time value (a LayerConfig), named and shaped as the reference keeps
// them. One set of tensors serves every configuration that fits in it, as in
// the reference's weight-sharing supernet:
//
//   LoRA_k    the first k columns of the down tensor and the first k rows of the up tensor
//   vector    column 0 of the down tensor (A, B: out entries; C: in entries); all of D or E
//   constant  element [0, 0] of the down tensor; element 0 of D or E
//
// The same rule reads a file's tensors, which may be larger than their choice
// needs (a supernet checkpoint loaded with a searched configuration).

#include <glora/adapter.hpp>
#include <glora/config.hpp>
#include <glora/errors.hpp>
#include <glora/parameters.hpp>
#include <glora/support.hpp>

#include <Eigen/Core>

#include <cstdint>
#include <string>

namespace glora {

template <typename T>
struct DynamicAdapter;

namespace detail {
template <typename T>
void check_fits(const Call& where, const char* owner, const DynamicAdapter<T>& a, Slot s, Choice c,
                Eigen::Index out, Eigen::Index in);
}  // namespace detail

/// Tensors for an out x in layer (reference names and PyTorch shapes):
///   Ad out x RA, Au RA x in;  Bd out x RB, Bu RB x in;  Cd in x RC, Cu RC x 1;  D, E out.
/// `config` says which part of each is in use; a tensor a slot does not use may be empty.
template <typename T>
struct DynamicAdapter {
  static_assert(std::is_floating_point_v<T>, "glora: the scalar type must be float or double");
  using scalar_type = T;

  LayerConfig config;
  MatrixX<T> Ad, Au, Bd, Bu, Cd, Cu;
  VectorX<T> D, E;

  DynamicAdapter() = default;

  /// Zero-filled tensors that can hold every configuration up to `capacity`
  /// (per slot: a rank, or a vector, or a constant) on an out x in layer;
  /// the configuration starts as `capacity` itself. Throws config_error
  /// unless `capacity` is a valid configuration.
  DynamicAdapter(const LayerConfig& capacity, Eigen::Index out, Eigen::Index in)
      : config(capacity) {
    validate(capacity);
    for (const Slot s : all_slots) {
      const Choice c = capacity[s];
      const Eigen::Index rows = detail::vector_size(s, out, in);
      if (s == Slot::D || s == Slot::E) {
        value(*this, s).setZero(c.kind == Kind::vector ? out : c.kind == Kind::scalar ? 1 : 0);
        continue;
      }
      const Eigen::Index cols = c.kind == Kind::low_rank ? c.rank : c.kind == Kind::none ? 0 : 1;
      down(*this, s).setZero(c.kind == Kind::scalar ? 1 : c.kind == Kind::none ? 0 : rows, cols);
      up(*this, s).setZero(c.kind == Kind::low_rank ? c.rank : 0,
                           c.kind == Kind::low_rank ? (s == Slot::C ? 1 : in) : 0);
    }
  }

  /// Calls f(name, role, t...) for all eight tensors (those the configuration
  /// does not use, and empty ones, included), in the order Ad, Au, Bd, Bu,
  /// Cd, Cu, D, E, with t the tensor of each of `a` seen as a matrix.
  template <typename F, typename... Same>
  static void visit(F&& f, Same&... a) {
    f("Ad", Role::down, detail::as_matrix(a.Ad)...);
    f("Au", Role::up, detail::as_matrix(a.Au)...);
    f("Bd", Role::down, detail::as_matrix(a.Bd)...);
    f("Bu", Role::up, detail::as_matrix(a.Bu)...);
    f("Cd", Role::down, detail::as_matrix(a.Cd)...);
    f("Cu", Role::up, detail::as_matrix(a.Cu)...);
    f("D", Role::value, detail::as_matrix(a.D)...);
    f("E", Role::value, detail::as_matrix(a.E)...);
  }

  /// Throws config_error unless `config` is valid, and shape_error unless
  /// every tensor it uses is shaped for an out x in layer and large enough
  /// for its choice. The message names the call `where` and the tensor with
  /// the prefix `owner` (e.g. "grads.", or "" when `where` says whose it is).
  void check(const detail::Call& where, const char* owner, Eigen::Index out,
             Eigen::Index in) const {
    check(where, owner, config, out, in);
  }
  /// As check(where, owner, out, in) for another configuration than its own
  /// (gradients checked against their layer's configuration).
  void check(const detail::Call& where, const char* owner, const LayerConfig& used,
             Eigen::Index out, Eigen::Index in) const {
    validate(used);
    for (const Slot s : all_slots) detail::check_fits(where, owner, *this, s, used[s], out, in);
  }

  /// The reference initialisation of every tensor (see Adapter::initialize).
  void initialize(std::uint64_t seed) { detail::initialize_tensors(*this, seed); }
  /// Zeroes every down tensor, D and E (ups are kept): the layer equals its
  /// frozen base again, whatever configuration it is set to.
  void reset_to_identity() { detail::reset_to_identity(*this); }

  /// The down tensor of slot A, B or C (D and E for those slots).
  template <typename Self>
  static auto& down(Self& a, Slot s) {
    return s == Slot::A ? a.Ad : s == Slot::B ? a.Bd : a.Cd;
  }
  /// The up tensor of slot A, B or C.
  template <typename Self>
  static auto& up(Self& a, Slot s) {
    return s == Slot::A ? a.Au : s == Slot::B ? a.Bu : a.Cu;
  }
  /// Slot D's or E's vector.
  template <typename Self>
  static auto& value(Self& a, Slot s) {
    return s == Slot::D ? a.D : a.E;
  }
};

namespace detail {

/// "<owner><name> (slot A, LoRA_4)": owner is a prefix such as "adapter()." or "grads.", or empty.
inline std::string tensor_name(const char* owner, const char* name, Slot s, Choice c) {
  return std::string(owner) + name + " (slot " + slot_letter(s) + ", " + to_string(c) + ")";
}

/// Throws shape_error unless `t` is at least rows x cols and, where `exact_rows`
/// / `exact_cols`, exactly so in that dimension.
template <typename Derived>
void check_at_least(const Call& where, const std::string& what, const Eigen::EigenBase<Derived>& t,
                    Eigen::Index rows, bool exact_rows, Eigen::Index cols, bool exact_cols) {
  const bool rows_ok = exact_rows ? t.rows() == rows : t.rows() >= rows;
  const bool cols_ok = exact_cols ? t.cols() == cols : t.cols() >= cols;
  if (rows_ok && cols_ok) return;
  const std::string expected = std::string(exact_rows ? "" : "at least ") + std::to_string(rows) +
                               " x " + (exact_cols ? "" : "at least ") + std::to_string(cols);
  throw shape_error(where.str() + ": " + what + " is " + shape_string(t.rows(), t.cols()) +
                    ", expected " + expected);
}

/// Throws shape_error unless the tensors of slot s hold choice c on an out x in layer.
template <typename T>
void check_fits(const Call& where, const char* owner, const DynamicAdapter<T>& a, Slot s, Choice c,
                Eigen::Index out, Eigen::Index in) {
  if (c.kind == Kind::none) return;
  if (s == Slot::D || s == Slot::E) {
    const auto& v = DynamicAdapter<T>::value(a, s);
    if (v.size() == (c.kind == Kind::vector ? out : v.size()) && v.size() >= 1) return;
    check_at_least(where, tensor_name(owner, down_name(s), s, c), v,
                   c.kind == Kind::vector ? out : 1, c.kind == Kind::vector, 1, true);
    return;
  }
  const auto& d = DynamicAdapter<T>::down(a, s);
  if (c.kind == Kind::scalar) {
    if (d.size() == 0) {
      check_at_least(where, tensor_name(owner, down_name(s), s, c), d, 1, false, 1, false);
    }
    return;
  }
  const Eigen::Index rows = vector_size(s, out, in);
  const Eigen::Index rank = c.kind == Kind::low_rank ? c.rank : 1;
  if (d.rows() != rows || d.cols() < rank) {
    check_at_least(where, tensor_name(owner, down_name(s), s, c), d, rows, true, rank, false);
  }
  if (c.kind == Kind::low_rank) {
    const auto& u = DynamicAdapter<T>::up(a, s);
    const Eigen::Index cols = s == Slot::C ? 1 : in;
    if (u.rows() < rank || u.cols() != cols) {
      check_at_least(where, tensor_name(owner, up_name(s), s, c), u, rank, false, cols, true);
    }
  }
}

/// The first slot where two configurations differ in kind or rank, if any.
inline bool first_difference(const LayerConfig& x, const LayerConfig& y, Slot& slot) {
  for (const Slot s : all_slots) {
    if (x[s] != y[s]) {
      slot = s;
      return true;
    }
  }
  return false;
}

/// Copies the part of `from`'s slot s that its choice uses into the compile-time support `to`.
template <typename T, Slot S, typename K>
void copy_used_part(const DynamicAdapter<T>& from, Support<T, S, K>& to) {
  if constexpr (S == Slot::D || S == Slot::E) {
    const auto& v = DynamicAdapter<T>::value(from, S);
    if constexpr (std::is_same_v<K, Vector>) to.value = v;
    if constexpr (std::is_same_v<K, Scalar>) to.value = v(0);
  } else {
    const auto& d = DynamicAdapter<T>::down(from, S);
    if constexpr (is_low_rank_v<K>) {
      to.down = d.leftCols(rank_v<K>);
      to.up = DynamicAdapter<T>::up(from, S).topRows(rank_v<K>);
    } else if constexpr (std::is_same_v<K, Vector>) {
      to.value = d.col(0);
    } else if constexpr (std::is_same_v<K, Scalar>) {
      to.value = d(0, 0);
    }
  }
}

/// Copies the compile-time support `from` into `to`'s slot s, sized exactly for it.
template <typename T, Slot S, typename K>
void copy_support(const Support<T, S, K>& from, DynamicAdapter<T>& to) {
  if constexpr (S == Slot::D || S == Slot::E) {
    auto& v = DynamicAdapter<T>::value(to, S);
    if constexpr (std::is_same_v<K, Vector>) v = from.value;
    if constexpr (std::is_same_v<K, Scalar>) v = VectorX<T>::Constant(1, from.value);
  } else {
    auto& d = DynamicAdapter<T>::down(to, S);
    auto& u = DynamicAdapter<T>::up(to, S);
    if constexpr (is_low_rank_v<K>) {
      d = from.down;
      u = from.up;
    } else if constexpr (std::is_same_v<K, Vector>) {
      d = from.value;
    } else if constexpr (std::is_same_v<K, Scalar>) {
      d = MatrixX<T>::Constant(1, 1, from.value);
    }
  }
}

}  // namespace detail

/// The dynamic form of a compile-time adapter: its configuration, and its
/// tensors with exactly the shapes that configuration needs.
template <typename T, typename KA, typename KB, typename KC, typename KD, typename KE>
DynamicAdapter<T> to_dynamic(const Adapter<T, KA, KB, KC, KD, KE>& from) {
  DynamicAdapter<T> to;
  to.config = config_of<KA, KB, KC, KD, KE>();
  detail::copy_support(from.A, to);
  detail::copy_support(from.B, to);
  detail::copy_support(from.C, to);
  detail::copy_support(from.D, to);
  detail::copy_support(from.E, to);
  return to;
}

/// Sets a compile-time adapter for an out x in layer from the part of `from`
/// that `from.config` uses. Throws, leaving `to` unchanged, config_error when a
/// slot's choice differs from the adapter's kind ("glora::assign: slot A is
/// vector, the adapter has LowRank<4>") and shape_error when a tensor does not
/// hold its choice.
template <typename T, typename KA, typename KB, typename KC, typename KD, typename KE>
void assign(Adapter<T, KA, KB, KC, KD, KE>& to, const DynamicAdapter<T>& from, Eigen::Index out,
            Eigen::Index in) {
  constexpr LayerConfig kinds = config_of<KA, KB, KC, KD, KE>();
  Slot s = Slot::A;
  if (detail::first_difference(from.config, kinds, s)) {
    throw config_error(std::string("glora::assign: slot ") + slot_letter(s) + " is " +
                       to_string(from.config[s]) + ", the adapter has " + kind_name(kinds[s]));
  }
  from.check("glora::assign", "from.", out, in);
  detail::copy_used_part(from, to.A);
  detail::copy_used_part(from, to.B);
  detail::copy_used_part(from, to.C);
  detail::copy_used_part(from, to.D);
  detail::copy_used_part(from, to.E);
}

}  // namespace glora

#pragma once
// The tensors of one adapted layer inside a safetensors file, whatever the
// format that named them (glora adapter file, PEFT): which tensor plays which
// part, the shapes a configuration needs of them (with the supernet rule:
// larger is fine, smaller is an error), and reading them into a DynamicAdapter.

#include <glora/config.hpp>
#include <glora/dynamic_adapter.hpp>
#include <glora/io/file_error.hpp>
#include <glora/io/safetensors_file.hpp>

#include <Eigen/Core>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace glora::io {

/// The eight tensors of an adapter in DynamicAdapter's order.
enum class Part : std::uint8_t { Ad, Au, Bd, Bu, Cd, Cu, D, E };
inline constexpr const char* part_names[] = {"Ad", "Au", "Bd", "Bu", "Cd", "Cu", "D", "E"};

/// One layer's tensors found in a file. out and in are -1 while unknown.
struct LayerTensors {
  std::string name;
  LayerConfig config;
  Eigen::Index out = -1;
  Eigen::Index in = -1;
  std::array<std::string, 8> names;            // each part's full tensor name in the file
  std::array<const TensorInfo*, 8> tensors{};  // null where the file has none
  int scalar_dims =
      2;  // dimensions of a constant in A, B or C: 2 in glora files ([1, 1]), 1 in PEFT ([1])
};

namespace detail {

/// The shape a part must have: `dims` extents, each exactly `extent` or at least it.
struct Need {
  int dims;
  Eigen::Index extent[2];
  bool exact[2];
};

inline Part down_part(Slot s) {
  return s == Slot::A   ? Part::Ad
         : s == Slot::B ? Part::Bd
         : s == Slot::C ? Part::Cd
         : s == Slot::D ? Part::D
                        : Part::E;
}
inline Part up_part(Slot s) { return s == Slot::A ? Part::Au : s == Slot::B ? Part::Bu : Part::Cu; }

/// The parts a choice in slot s uses, with the shapes they need on an out x in layer.
inline std::vector<std::pair<Part, Need>> needs(Slot s, Choice c, Eigen::Index out, Eigen::Index in,
                                                int scalar_dims) {
  std::vector<std::pair<Part, Need>> parts;
  const Eigen::Index rows = s == Slot::C ? in : out;
  switch (c.kind) {
    case Kind::none: break;
    case Kind::scalar:
      parts.push_back({down_part(s), s == Slot::D || s == Slot::E || scalar_dims == 1
                                         ? Need{1, {1, 0}, {false, true}}
                                         : Need{2, {1, 1}, {false, false}}});
      break;
    case Kind::vector:
      parts.push_back({down_part(s), s == Slot::D || s == Slot::E
                                         ? Need{1, {out, 0}, {true, true}}
                                         : Need{2, {rows, 1}, {true, false}}});
      break;
    case Kind::low_rank:
      parts.push_back({down_part(s), Need{2, {rows, c.rank}, {true, false}}});
      parts.push_back({up_part(s), Need{2, {c.rank, s == Slot::C ? 1 : in}, {false, true}}});
      break;
  }
  return parts;
}

inline std::string need_string(const Need& n) {
  std::string text = "[";
  for (int k = 0; k < n.dims; ++k) {
    if (k > 0) text += ", ";
    text += (n.exact[k] ? "" : "at least ") + std::to_string(n.extent[k]);
  }
  return text + "]";
}

inline bool fits(const TensorInfo& t, const Need& n) {
  if (static_cast<int>(t.shape.size()) != n.dims) return false;
  for (int k = 0; k < n.dims; ++k) {
    const auto have = static_cast<Eigen::Index>(t.shape[static_cast<std::size_t>(k)]);
    if (n.extent[k] < 0) continue;  // not known yet
    if (n.exact[k] ? have != n.extent[k] : have < n.extent[k]) return false;
  }
  return true;
}

/// Fills in out and in from the tensors that fix them, where unknown.
inline void infer_shape(LayerTensors& layer) {
  const auto rows_of = [&layer](Part p, Eigen::Index& target) {
    const TensorInfo* t = layer.tensors[static_cast<std::size_t>(p)];
    if (target < 0 && t != nullptr && !t->shape.empty() && t->shape[0] <= 1ull << 62) {
      target = static_cast<Eigen::Index>(t->shape[0]);
    }
  };
  const auto cols_of = [&layer](Part p, Eigen::Index& target) {
    const TensorInfo* t = layer.tensors[static_cast<std::size_t>(p)];
    if (target < 0 && t != nullptr && t->shape.size() == 2 && t->shape[1] <= 1ull << 62) {
      target = static_cast<Eigen::Index>(t->shape[1]);
    }
  };
  const LayerConfig& c = layer.config;
  const auto spans = [](Choice x) { return x.kind == Kind::vector || x.kind == Kind::low_rank; };
  if (spans(c.A)) rows_of(Part::Ad, layer.out);
  if (spans(c.B)) rows_of(Part::Bd, layer.out);
  if (c.D.kind == Kind::vector) rows_of(Part::D, layer.out);
  if (c.E.kind == Kind::vector) rows_of(Part::E, layer.out);
  if (c.A.kind == Kind::low_rank) cols_of(Part::Au, layer.in);
  if (c.B.kind == Kind::low_rank) cols_of(Part::Bu, layer.in);
  if (spans(c.C)) rows_of(Part::Cd, layer.in);
}

}  // namespace detail

/// Throws file_error unless every tensor the layer's configuration uses is
/// present, floating point and large enough on an out x in layer (unknown
/// out or in are first taken from the tensors).
inline void check_layer(const std::string& path, LayerTensors& layer) {
  detail::infer_shape(layer);
  bool used[8] = {};
  for (const Slot s : all_slots) {
    for (const auto& need : detail::needs(s, layer.config[s], 0, 0, layer.scalar_dims)) {
      used[static_cast<std::size_t>(need.first)] = true;
    }
  }
  for (std::size_t k = 0; k < 8; ++k) {  // parts the configuration leaves unused: read as stored
    const TensorInfo* t = used[k] ? nullptr : layer.tensors[k];
    const std::size_t dims = k < 6 ? 2 : 1;
    if (t != nullptr && (t->shape.size() != dims || !is_floating(t->dtype))) {
      detail::fail(path, "tensor " + detail::quote(t->name) + " is " + dtype_name(t->dtype) + " " +
                             shape_string(t->shape) + ", expected a floating-point tensor of " +
                             std::to_string(dims) + (dims == 1 ? " dimension" : " dimensions") +
                             " (layer " + detail::quote(layer.name) + ")");
    }
  }
  for (const Slot s : all_slots) {
    const Choice c = layer.config[s];
    for (const auto& [part, need] : detail::needs(s, c, layer.out, layer.in, layer.scalar_dims)) {
      const auto k = static_cast<std::size_t>(part);
      const TensorInfo* t = layer.tensors[k];
      const std::string context = " (layer " + detail::quote(layer.name) + ", " + slot_letter(s) +
                                  " = " + to_string(c) + ")";
      if (t == nullptr) {
        detail::fail(path, "tensor " + detail::quote(layer.names[k]) + " is missing" + context);
      }
      if (!is_floating(t->dtype)) {
        detail::fail(path, "tensor " + detail::quote(t->name) + " is " + dtype_name(t->dtype) +
                               ", expected F16, BF16, F32 or F64" + context);
      }
      if (!detail::fits(*t, need)) {
        const std::string shape =
            layer.out >= 0 && layer.in >= 0
                ? ", " + std::to_string(layer.out) + " x " + std::to_string(layer.in)
                : std::string();
        detail::fail(path, "tensor " + detail::quote(t->name) + " is " + shape_string(t->shape) +
                               ", expected " + detail::need_string(need) + " (layer " +
                               detail::quote(layer.name) + shape + ", " + slot_letter(s) + " = " +
                               to_string(c) + ")");
      }
    }
  }
}

/// The layer's tensors as a DynamicAdapter with the file's configuration.
/// Every tensor present is read as stored (a supernet's full tensors stay
/// whole); call check_layer first.
template <typename T>
DynamicAdapter<T> read_layer(const SafetensorsFile& file, const LayerTensors& layer,
                             const ReadOptions& options) {
  DynamicAdapter<T> a;
  a.config = layer.config;
  MatrixX<T>* const matrices[] = {&a.Ad, &a.Au, &a.Bd, &a.Bu, &a.Cd, &a.Cu};
  for (std::size_t k = 0; k < 6; ++k) {
    if (const TensorInfo* t = layer.tensors[k]) *matrices[k] = file.matrix<T>(*t, options);
  }
  VectorX<T>* const vectors[] = {&a.D, &a.E};
  for (std::size_t k = 0; k < 2; ++k) {
    if (const TensorInfo* t = layer.tensors[6 + k]) {
      vectors[k]->resize(static_cast<Eigen::Index>(file.matrix_shape(*t).first));
      file.read_into(*t, vectors[k]->data(), options);
    }
  }
  return a;
}

/// The layer called `name` among `layers`, or null.
inline const LayerTensors* find_layer(const std::vector<LayerTensors>& layers,
                                      const std::string& name) {
  for (const LayerTensors& l : layers) {
    if (l.name == name) return &l;
  }
  return nullptr;
}

/// read_layer of the layer called `name`; throws file_error when there is
/// none (`what` names it in the message: "layer", "module").
template <typename T>
DynamicAdapter<T> read_named(const SafetensorsFile& file, const std::vector<LayerTensors>& layers,
                             const std::string& name, const char* what,
                             const ReadOptions& options) {
  const LayerTensors* layer = find_layer(layers, name);
  if (layer == nullptr) {
    detail::fail(file.path(),
                 std::string(what) + " " + detail::quote(name) + " is not in the file");
  }
  return read_layer<T>(file, *layer, options);
}

}  // namespace glora::io

#pragma once
// AdapterSet: the layers whose adapters go into or come out of a file, each
// under the name the file knows it by. A layer of any compile-time kinds
// (Linear, LinearView, Adapter) or a DynamicAdapter is held as a pair of
// conversions to and from DynamicAdapter<T>, so that the file code that
// follows is written once, not once per combination of kinds.

#include <glora/config.hpp>
#include <glora/dynamic_adapter.hpp>

#include <Eigen/Core>

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace glora::io {

/// How the file code reaches one layer's adapter, for scalar type T.
template <typename T>
struct AdapterAccess {
  /// The adapter as it is now (a compile-time one: its tensors, exactly shaped).
  std::function<DynamicAdapter<T>()> get;
  /// Replaces the adapter (taking the tensors over where it can); called only
  /// with tensors already checked to fit. Empty for a const layer, which can
  /// be saved but not loaded.
  std::function<void(DynamicAdapter<T>&&)> set;
};

/// One named layer.
struct AdapterEntry {
  std::string name;
  Eigen::Index out = 0;  // rows of W0
  Eigen::Index in = 0;   // columns of W0
  /// The kinds a compile-time adapter is fixed to; empty for a DynamicAdapter (any kinds).
  std::optional<LayerConfig> kinds;
  /// Whether the frozen layer has a bias, when known (a Linear or LinearView).
  std::optional<bool> has_bias;
  std::variant<AdapterAccess<float>, AdapterAccess<double>> access;
};

namespace detail {
template <typename L, typename = void>
struct is_layer : std::false_type {};
template <typename L>
struct is_layer<L, std::void_t<typename L::adapter_type, decltype(std::declval<L&>().adapter()),
                               decltype(std::declval<L&>().in_features())>> : std::true_type {};
}  // namespace detail

class AdapterSet {
 public:
  /// A Linear or LinearView (const: save only). Its kinds, shape and bias come from the layer.
  template <typename Layer, typename = std::enable_if_t<detail::is_layer<Layer>::value>>
  AdapterSet& add(std::string name, Layer& layer) {
    auto& adapter = layer.adapter();
    return add_fixed(std::move(name), adapter, layer.out_features(), layer.in_features(),
                     layer.has_bias());
  }

  /// An Adapter of any kinds for an out x in layer.
  template <typename T, typename KA, typename KB, typename KC, typename KD, typename KE>
  AdapterSet& add(std::string name, Adapter<T, KA, KB, KC, KD, KE>& adapter, Eigen::Index out,
                  Eigen::Index in) {
    return add_fixed(std::move(name), adapter, out, in, std::nullopt);
  }
  template <typename T, typename KA, typename KB, typename KC, typename KD, typename KE>
  AdapterSet& add(std::string name, const Adapter<T, KA, KB, KC, KD, KE>& adapter, Eigen::Index out,
                  Eigen::Index in) {
    return add_fixed(std::move(name), adapter, out, in, std::nullopt);
  }

  /// A DynamicAdapter for an out x in layer: it takes whatever configuration
  /// and tensor sizes a file holds (a supernet keeps its full tensors).
  template <typename T>
  AdapterSet& add(std::string name, DynamicAdapter<T>& adapter, Eigen::Index out, Eigen::Index in) {
    AdapterAccess<T> access{[&adapter] { return adapter; },
                            [&adapter](DynamicAdapter<T>&& from) { adapter = std::move(from); }};
    return push({std::move(name), out, in, std::nullopt, std::nullopt, std::move(access)});
  }
  template <typename T>
  AdapterSet& add(std::string name, const DynamicAdapter<T>& adapter, Eigen::Index out,
                  Eigen::Index in) {
    AdapterAccess<T> access{[&adapter] { return adapter; }, {}};
    return push({std::move(name), out, in, std::nullopt, std::nullopt, std::move(access)});
  }

  const std::vector<AdapterEntry>& entries() const { return entries_; }

 private:
  template <typename A>
  AdapterSet& add_fixed(std::string name, A& adapter, Eigen::Index out, Eigen::Index in,
                        std::optional<bool> has_bias) {
    using Plain = std::remove_const_t<A>;
    using T = typename Plain::scalar_type;
    AdapterAccess<T> access;
    access.get = [&adapter] { return to_dynamic(adapter); };
    if constexpr (!std::is_const_v<A>) {
      access.set = [&adapter, out, in](DynamicAdapter<T>&& from) {
        assign(adapter, from, out, in);
      };
    }
    const LayerConfig kinds =
        config_of<typename Plain::kind_a, typename Plain::kind_b, typename Plain::kind_c,
                  typename Plain::kind_d, typename Plain::kind_e>();
    return push({std::move(name), out, in, kinds, has_bias, std::move(access)});
  }

  AdapterSet& push(AdapterEntry entry) {
    for (const AdapterEntry& e : entries_) {
      if (e.name == entry.name) {
        throw std::invalid_argument("glora::io::AdapterSet: the layer name \"" + entry.name +
                                    "\" is used twice");
      }
    }
    entries_.push_back(std::move(entry));
    return *this;
  }

  std::vector<AdapterEntry> entries_;
};

}  // namespace glora::io

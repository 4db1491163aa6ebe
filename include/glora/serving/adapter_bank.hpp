#pragma once
// AdapterBank and AdapterBankView: many adapters over one frozen base, each
// under a key, serving batches whose columns each name their adapter.
//
// A service that adapts one base model for many users or tasks holds one
// adapter per tenant. A merged copy of W per adapter costs a full weight
// matrix each; the bank keeps W0 once and runs a batch that mixes adapters
// in one pass over W0, column j through the adapter of key j.

#include <glora/adapter.hpp>
#include <glora/dense.hpp>
#include <glora/detail/arguments.hpp>
#include <glora/detail/frozen.hpp>
#include <glora/detail/layer.hpp>
#include <glora/detail/views.hpp>
#include <glora/errors.hpp>
#include <glora/parameters.hpp>
#include <glora/serving/bank_workspace.hpp>
#include <glora/serving/keys.hpp>

#include <Eigen/Core>

#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace glora {

/// What a bank holds in memory, in bytes of tensor data.
struct BankMemory {
  std::size_t base = 0;      ///< W0 and b0, once (held by the bank or viewed)
  std::size_t adapters = 0;  ///< the support tensors of every adapter
  std::size_t count = 0;     ///< the number of adapters

  std::size_t total() const { return base + adapters; }
};

namespace detail {

/// An adapter once it is in a bank: never changed again, shared by the bank
/// and the forwards that use it. `slot` is a number that no other adapter in
/// the bank has at the same time (a removed adapter's number is reused); it
/// is set before the entry is published and read-only after.
template <typename Adapter>
struct BankEntry {
  using T = typename Adapter::scalar_type;

  explicit BankEntry(Adapter a) : adapter(std::move(a)), view(adapter_view(adapter)) {}
  BankEntry(const BankEntry&) = delete;
  BankEntry& operator=(const BankEntry&) = delete;

  const Adapter adapter;
  const AdapterView<const T> view;  // of `adapter`, which does not move
  std::size_t slot = 0;
};

/// The bank's implementation, for a frozen base held by value (OwnedFrozen)
/// or viewed (ViewedFrozen). Derived names the public type in messages.
template <typename Derived, typename Frozen, typename Adapter, typename Key, typename Hash,
          typename KeyEqual>
class BankBase {
  using Entry = BankEntry<Adapter>;

 public:
  using adapter_type = Adapter;
  using scalar_type = typename Adapter::scalar_type;
  using key_type = Key;
  using T = scalar_type;

  BankBase(const BankBase&) = delete;
  BankBase& operator=(const BankBase&) = delete;

  /// Columns of W0: the size of one input sample.
  Eigen::Index in_features() const { return frozen_.cols(); }
  /// Rows of W0: the size of one output sample.
  Eigen::Index out_features() const { return frozen_.rows(); }
  /// Whether the frozen layer has a bias b0.
  bool has_bias() const { return frozen_.bias_data() != nullptr; }
  /// The frozen weight W0 (out x in), read-only, in whichever storage order it is kept.
  Eigen::Map<const MatrixX<T>, 0, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>> weight() const {
    return detail::frozen_weight(frozen_);
  }
  /// The frozen bias b0 (out entries; empty without a bias).
  Eigen::Map<const VectorX<T>> bias() const { return detail::frozen_bias(frozen_); }
  /// The key whose columns run through the frozen base alone.
  const Key& base_key() const { return base_key_; }

  /// Adds `adapter` under `key`. Throws, changing nothing: shape_error (or
  /// config_error, for a DynamicAdapter) unless its tensors fit the base,
  /// std::invalid_argument when the key is the base key or already has an
  /// adapter (replace() swaps one).
  void add(const Key& key, Adapter adapter) {
    const Call where(Derived::type_name, "add");
    check_not_base(where, key);
    adapter.check(where, "adapter.", out_features(), in_features());
    // Built before the lock: forwards never wait for a copy or a check.
    auto entry = std::make_shared<Entry>(std::move(adapter));
    std::unique_lock<std::shared_mutex> lock(mutex_);
    if (entries_.count(key) != 0) {
      throw std::invalid_argument(where.str() + ": the key " + key_text(key) +
                                  " already has an adapter; use replace() to swap it");
    }
    entry->slot = free_slots_.empty() ? slot_count_ : free_slots_.back();
    entries_.emplace(key, std::move(entry));  // may throw bad_alloc: no slot taken yet
    if (free_slots_.empty()) {
      ++slot_count_;
    } else {
      free_slots_.pop_back();
    }
  }

  /// Replaces the adapter under `key` with `adapter`. A forward running at the
  /// same time uses the old adapter or the new one for all of its columns of
  /// that key, never a mix. Throws, changing nothing: unknown_adapter when the
  /// key has no adapter, shape_error or config_error as add().
  void replace(const Key& key, Adapter adapter) {
    const Call where(Derived::type_name, "replace");
    check_not_base(where, key);
    adapter.check(where, "adapter.", out_features(), in_features());
    auto entry = std::make_shared<Entry>(std::move(adapter));
    std::shared_ptr<const Entry> old;  // declared first: released after the lock
    std::unique_lock<std::shared_mutex> lock(mutex_);
    const auto it = entries_.find(key);
    if (it == entries_.end()) throw_unknown(where, key);
    entry->slot = it->second->slot;  // the key keeps its slot
    old = std::exchange(it->second, std::move(entry));
  }

  /// Removes the adapter under `key`; returns false when there was none. A
  /// forward that has already found it keeps using it until it returns.
  bool remove(const Key& key) {
    std::shared_ptr<const Entry> old;  // released after the lock, outside it
    std::unique_lock<std::shared_mutex> lock(mutex_);
    const auto it = entries_.find(key);
    if (it == entries_.end()) return false;
    old = std::move(it->second);
    free_slots_.push_back(old->slot);
    entries_.erase(it);
    return true;
  }

  /// Whether `key` has an adapter.
  bool contains(const Key& key) const {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    return entries_.count(key) != 0;
  }
  /// The number of adapters.
  std::size_t size() const {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    return entries_.size();
  }
  /// The keys that have an adapter, in no particular order.
  std::vector<Key> keys() const {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    std::vector<Key> keys;
    keys.reserve(entries_.size());
    for (const auto& entry : entries_) keys.push_back(entry.first);
    return keys;
  }
  /// The adapter under `key` (read-only, kept alive by the pointer even if
  /// replaced or removed meanwhile), or null when the key has none.
  std::shared_ptr<const Adapter> find(const Key& key) const {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    const auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    return std::shared_ptr<const Adapter>(it->second, &it->second->adapter);
  }

  /// Y = W X + b with each column j through the adapter under keys[j] (the
  /// base key: the frozen base alone). X is in x N, keys has N entries (a
  /// std::vector, std::array or anything std::data and std::size take),
  /// returns out x N.
  template <typename XD, typename Keys>
  MatrixX<T> forward(const Eigen::MatrixBase<XD>& X, const Keys& keys) const {
    MatrixX<T> Y(out_features(), X.cols());
    forward(X, keys, Y);
    return Y;
  }

  /// Writes Y (out x N, sized by the caller) as forward(X, keys). All the
  /// columns run in one pass over W0, whatever their adapters. Throws,
  /// leaving Y untouched: shape_error for a shape that does not fit,
  /// unknown_adapter naming the first key that has no adapter. Uses the
  /// bank's own workspace, allocation-free for a batch seen before (see
  /// BankWorkspace); a call that finds it in use on another thread runs on a
  /// temporary one (and allocates): threads that serve concurrently should
  /// each pass their own BankWorkspace to the overload below.
  template <typename XD, typename Keys, typename YD>
  void forward(const Eigen::MatrixBase<XD>& X, const Keys& keys, YD&& Y) const {
    auto lease = workspace_.lease();
    forward(X, keys, std::forward<YD>(Y), lease.get());
  }

  /// As forward(X, keys, Y), with caller-owned scratch.
  template <typename XD, typename Keys, typename YD>
  void forward(const Eigen::MatrixBase<XD>& X, const Keys& keys, YD&& Y,
               BankWorkspace<T>& workspace) const {
    using Element = std::remove_cv_t<std::remove_pointer_t<decltype(std::data(keys))>>;
    static_assert(std::is_same_v<Element, Key>,
                  "glora::AdapterBank::forward: keys must hold the bank's key type (one per "
                  "column of X)");
    const Call where(Derived::type_name, "forward");
    const Eigen::Ref<const MatrixX<T>> x = input_ref<T>(X.derived());
    Eigen::Ref<MatrixX<T>> y = output_ref<T>(std::forward<YD>(Y));
    check_rows(where, "X", x, in_features(), "in_features");
    check_shape(where, "Y", y, out_features(), x.cols());
    const auto count = static_cast<Eigen::Index>(std::size(keys));
    if (count != x.cols()) {
      throw shape_error(where.str() + ": keys has " + std::to_string(count) +
                        " entries, expected " + std::to_string(x.cols()) +
                        " (one per column of X)");
    }
    Holding holding(workspace);
    const Eigen::Index groups = resolve(where, std::data(keys), count, workspace);
    const bool in_order = sort_into_groups(workspace, groups);
    const GroupedBatch<T> batch{workspace.adapters.data(), workspace.start.data(),
                                in_order ? nullptr : workspace.order.data(), groups, true};
    frozen_.kernels->grouped_forward(frozen_view(frozen_), batch, x, y, workspace.kernel);
  }

  /// The merged layer of the adapter under `key` (of the frozen base alone
  /// for the base key): weight W0 + W0 ⊙ A + B, bias b0 + b0 ⊙ D + E + W0 c
  /// (zero when the base has no bias and the adapter adds none). The bank is
  /// unchanged. Throws unknown_adapter when the key has no adapter.
  Dense<T> merge(const Key& key) const {
    const Call where(Derived::type_name, "merge");
    std::shared_ptr<const Entry> entry;
    if (!KeyEqual()(key, base_key_)) {
      std::shared_lock<std::shared_mutex> lock(mutex_);
      const auto it = entries_.find(key);
      if (it == entries_.end()) throw_unknown(where, key);
      entry = it->second;
    }
    Dense<T> merged;
    merged.weight.resize(out_features(), in_features());
    merged.bias.setZero(out_features());
    const AdapterView<const T>& view = entry ? entry->view : base_view_;
    frozen_.kernels->merge(frozen_view(frozen_), view,
                           MergeTarget<T>{merged.weight.data(), merged.weight.outerStride(), false},
                           merged.bias);
    return merged;
  }

  /// The bytes of tensor data held: W0 and b0 once, and every adapter's
  /// support tensors (a DynamicAdapter's whole tensors, also the parts its
  /// configuration does not use).
  BankMemory memory() const {
    BankMemory memory;
    memory.base = std::size_t(frozen_.rows() * frozen_.cols() + bias().size()) * sizeof(T);
    std::shared_lock<std::shared_mutex> lock(mutex_);
    for (const auto& entry : entries_) {
      memory.adapters += std::size_t(parameter_count(entry.second->adapter)) * sizeof(T);
    }
    memory.count = entries_.size();
    return memory;
  }

 protected:
  BankBase(Frozen frozen, Key base_key)
      : frozen_(std::move(frozen)), base_key_(std::move(base_key)) {}

 private:
  /// Releases what a forward holds when it ends, however it ends.
  struct Holding {
    BankWorkspace<T>& ws;
    explicit Holding(BankWorkspace<T>& w) : ws(w) {}
    Holding(const Holding&) = delete;
    Holding& operator=(const Holding&) = delete;
    ~Holding() {
      for (const auto& held : ws.held) {
        if (held) ws.group_of_slot[static_cast<const Entry*>(held.get())->slot] = -1;
      }
      ws.held.clear();
    }
  };

  void check_not_base(const Call& where, const Key& key) const {
    if (KeyEqual()(key, base_key_)) {
      throw std::invalid_argument(where.str() + ": the key " + key_text(key) +
                                  " is the base key (its columns run through the frozen base "
                                  "alone); pick another key");
    }
  }

  [[noreturn]] static void throw_unknown(const Call& where, const Key& key) {
    throw unknown_adapter(where.str() + ": no adapter under the key " + key_text(key));
  }

  /// Finds every column's adapter under one lock, so that the whole batch
  /// sees one state of the bank: fills ws.column_group, and per group (in
  /// order of first use) ws.adapters and ws.held. Returns the number of groups.
  Eigen::Index resolve(const Call& where, const Key* keys, Eigen::Index count,
                       BankWorkspace<T>& ws) const {
    ws.column_group.resize(static_cast<std::size_t>(count));
    ws.adapters.clear();
    Eigen::Index base_group = -1;
    std::shared_lock<std::shared_mutex> lock(mutex_);
    if (ws.group_of_slot.size() < slot_count_) ws.group_of_slot.resize(slot_count_, -1);
    for (Eigen::Index j = 0; j < count; ++j) {
      const Key& key = keys[j];
      Eigen::Index group;
      if (KeyEqual()(key, base_key_)) {
        if (base_group < 0) {
          base_group = Eigen::Index(ws.adapters.size());
          ws.adapters.push_back(&base_view_);
          ws.held.emplace_back();
        }
        group = base_group;
      } else {
        const auto it = entries_.find(key);
        if (it == entries_.end()) {
          throw unknown_adapter(where.str() + ": no adapter under the key " + key_text(key) +
                                " (column " + std::to_string(j) + " of X)");
        }
        const Entry& entry = *it->second;
        Eigen::Index& slot_group = ws.group_of_slot[entry.slot];
        if (slot_group < 0) {
          slot_group = Eigen::Index(ws.adapters.size());
          ws.adapters.push_back(&entry.view);
          ws.held.push_back(it->second);
        }
        group = slot_group;
      }
      ws.column_group[static_cast<std::size_t>(j)] = group;
    }
    return Eigen::Index(ws.adapters.size());
  }

  Frozen frozen_;
  const Key base_key_;
  const AdapterView<const T> base_view_{};  // every slot none: the frozen base alone

  mutable std::shared_mutex mutex_;  // guards entries_, free_slots_ and slot_count_
  std::unordered_map<Key, std::shared_ptr<const Entry>, Hash, KeyEqual> entries_;
  std::vector<std::size_t> free_slots_;  // slots of removed adapters, to reuse
  std::size_t slot_count_ = 0;           // slots handed out so far

  mutable SharedWorkspace<BankWorkspace<T>> workspace_;
};

}  // namespace detail

/// Many adapters over one frozen base that the bank owns: W0 (out x in,
/// column- or row-major) and b0 (out), each adapter under a key of the
/// caller's choosing, served in mixed batches. The base is never written.
///
/// Adapter is one compile-time adapter type (glora::Adapter<T, KA..KE>: every
/// adapter of the bank has those kinds) or glora::DynamicAdapter<T> (each
/// adapter with its own configuration). Key is any hashable, equality
/// comparable type (std::hash and std::equal_to by default); `base_key`
/// (Key{} by default: "" for strings) names the frozen base alone.
///
/// Threads. Every member may be called from any number of threads at once:
/// forward, merge and the queries alongside add, replace and remove. An
/// adapter is never changed once added: replace publishes a new one under
/// the key and remove drops the key, each under an exclusive lock held for a
/// few pointer updates. A forward looks up every key of its batch at once,
/// under a shared lock, and holds its own references to the adapters it
/// found until it returns. So a forward that races with a replace computes
/// each column with the old adapter or the new one, never a mix of the two,
/// and all its columns of one key with the same one; an adapter replaced or
/// removed meanwhile is freed when the last forward using it returns.
template <typename Adapter, typename Key = std::string, typename Hash = std::hash<Key>,
          typename KeyEqual = std::equal_to<Key>>
class AdapterBank : public detail::BankBase<AdapterBank<Adapter, Key, Hash, KeyEqual>,
                                            detail::OwnedFrozen<typename Adapter::scalar_type>,
                                            Adapter, Key, Hash, KeyEqual> {
  using T = typename Adapter::scalar_type;
  using Base = detail::BankBase<AdapterBank, detail::OwnedFrozen<T>, Adapter, Key, Hash, KeyEqual>;

 public:
  static constexpr const char* type_name = "glora::AdapterBank";

  /// Takes W0 (out x in) and b0 (out) by value: move them in to avoid a
  /// copy. Throws shape_error unless b0 has W0.rows() entries.
  template <typename WD, typename BD, detail::if_eigen<WD> = 0, detail::if_eigen<BD> = 0>
  AdapterBank(WD&& W0, BD&& b0, Key base_key = Key{})
      : Base(detail::owned_frozen<T>(type_name, std::forward<WD>(W0), std::forward<BD>(b0)),
             std::move(base_key)) {}
  /// A base without a bias.
  template <typename WD, detail::if_eigen<WD> = 0>
  explicit AdapterBank(WD&& W0, Key base_key = Key{})
      : Base(detail::owned_frozen<T>(std::forward<WD>(W0)), std::move(base_key)) {}
};

/// As AdapterBank, over a frozen base that a model already owns (a matrix,
/// Map, Ref or block, either storage order, or raw storage), viewed and
/// never written; read-only (const) storage is enough. The viewed storage
/// must outlive the bank and stay where it is.
template <typename Adapter, typename Key = std::string, typename Hash = std::hash<Key>,
          typename KeyEqual = std::equal_to<Key>>
class AdapterBankView : public detail::BankBase<AdapterBankView<Adapter, Key, Hash, KeyEqual>,
                                                detail::ViewedFrozen<typename Adapter::scalar_type>,
                                                Adapter, Key, Hash, KeyEqual> {
  using T = typename Adapter::scalar_type;
  using Base =
      detail::BankBase<AdapterBankView, detail::ViewedFrozen<T>, Adapter, Key, Hash, KeyEqual>;

 public:
  static constexpr const char* type_name = "glora::AdapterBankView";

  /// Views W0 (out x in) and b0 (out). Throws shape_error unless the sizes fit.
  template <typename WD, typename BD, detail::if_eigen<WD> = 0, detail::if_eigen<BD> = 0>
  AdapterBankView(WD&& W0, BD&& b0, Key base_key = Key{})
      : Base(detail::viewed_frozen<T>(type_name, std::forward<WD>(W0), std::forward<BD>(b0)),
             std::move(base_key)) {}
  /// Views a base without a bias.
  template <typename WD, detail::if_eigen<WD> = 0>
  explicit AdapterBankView(WD&& W0, Key base_key = Key{})
      : Base(detail::viewed_frozen<T>(std::forward<WD>(W0)), std::move(base_key)) {}
  /// Views raw column-major storage: W0 holds out x in values, column after
  /// column; b0 (if not null) holds out values.
  AdapterBankView(ColumnMajorStorage, const T* W0, Eigen::Index out, Eigen::Index in,
                  const T* b0 = nullptr, Key base_key = Key{})
      : Base(detail::viewed_frozen<Eigen::ColMajor>(W0, out, in, b0), std::move(base_key)) {}
  /// Views raw row-major storage (PyTorch's [out, in] layout).
  AdapterBankView(RowMajorStorage, const T* W0, Eigen::Index out, Eigen::Index in,
                  const T* b0 = nullptr, Key base_key = Key{})
      : Base(detail::viewed_frozen<Eigen::RowMajor>(W0, out, in, b0), std::move(base_key)) {}
};

}  // namespace glora

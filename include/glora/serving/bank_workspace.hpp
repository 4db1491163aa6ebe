#pragma once
// BankWorkspace<T>: the scratch of AdapterBank::forward, reused across calls.

#include <glora/detail/views.hpp>
#include <glora/workspace.hpp>

#include <Eigen/Core>

#include <memory>
#include <vector>

namespace glora {

/// Scratch for AdapterBank::forward: the kernel's Workspace, and where a call
/// sorts its columns into groups, one per adapter it uses. It grows to fit the
/// calls it has run and is then reused: a forward that repeats a batch seen
/// before (the same keys for its columns) allocates nothing. Another mix or
/// order of keys, even of the same size, can take another path through the
/// kernel (stacked or tiled, other block sizes), and the first such call may
/// grow the workspace. One workspace serves one forward at a time.
template <typename T>
struct BankWorkspace {
  Workspace<T> kernel;
  /// The adapters the call uses, held until it returns: a replaced or removed
  /// adapter outlives every call that found it.
  std::vector<std::shared_ptr<const void>> held;
  std::vector<const detail::AdapterView<const T>*> adapters;  ///< one per group
  std::vector<Eigen::Index> group_of_slot;  ///< per adapter of the bank: its group, or -1
  std::vector<Eigen::Index> column_group;   ///< per column of X: its group
  std::vector<Eigen::Index> start;          ///< groups + 1: where each group's columns start
  std::vector<Eigen::Index> order;          ///< the columns, group after group
};

namespace detail {

/// Sorts columns 0..N-1 into their groups (column_group[j] < groups), keeping
/// their order within a group: ws.start (groups + 1 entries) and ws.order.
/// Returns whether the columns were already in group order, so that the
/// kernel can read X and write Y in place (ws.order is then not needed, but
/// sized all the same: the next batch of this size may need it).
template <typename T>
bool sort_into_groups(BankWorkspace<T>& ws, Eigen::Index groups) {
  const auto N = ws.column_group.size();
  ws.start.assign(static_cast<std::size_t>(groups) + 1, 0);
  bool in_order = true;
  for (std::size_t j = 0; j < N; ++j) {
    const auto g = static_cast<std::size_t>(ws.column_group[j]);
    ++ws.start[g + 1];
    if (j > 0 && ws.column_group[j] < ws.column_group[j - 1]) in_order = false;
  }
  for (std::size_t g = 0; g < static_cast<std::size_t>(groups); ++g) {
    ws.start[g + 1] += ws.start[g];
  }
  ws.order.resize(N);
  if (in_order) return true;
  // Fill each group from its start; ws.start is shifted by one group meanwhile and restored.
  for (std::size_t j = 0; j < N; ++j) {
    const auto g = static_cast<std::size_t>(ws.column_group[j]);
    ws.order[static_cast<std::size_t>(ws.start[g]++)] = Eigen::Index(j);
  }
  for (std::size_t g = static_cast<std::size_t>(groups); g > 0; --g) ws.start[g] = ws.start[g - 1];
  ws.start[0] = 0;
  return false;
}

}  // namespace detail
}  // namespace glora

#pragma once
// for_row_ranges: the library's own loops over the rows of W0, split between
// threads when Eigen is built with OpenMP.

#include <Eigen/Core>

#include <algorithm>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace glora::detail {

/// Below this many multiply-adds a loop is not worth waking threads for.
inline constexpr double parallel_work_threshold = 1 << 20;

/// The number of threads a loop of `work` multiply-adds will use: Eigen's
/// setting (Eigen::nbThreads(), i.e. OMP_NUM_THREADS or Eigen::setNbThreads),
/// or 1 without OpenMP, inside another parallel region, or for small work.
inline int row_threads(double work) {
#ifdef _OPENMP
  if (work >= parallel_work_threshold && !omp_in_parallel()) return Eigen::nbThreads();
#endif
  static_cast<void>(work);
  return 1;
}

/// Calls f(thread, begin, end) on `threads` disjoint row ranges covering
/// [0, rows), each a multiple of 64 rows but the last (whole cache lines).
/// Each call writes only its own rows, so the ranges can run concurrently.
template <typename F>
void for_row_ranges(Eigen::Index rows, int threads, F&& f) {
  const auto boundary = [&](int t) {
    return t == threads ? rows : std::min(rows, rows * t / threads / 64 * 64);
  };
#ifdef _OPENMP
  if (threads > 1) {
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int t = 0; t < threads; ++t) f(t, boundary(t), boundary(t + 1));
    return;
  }
#endif
  for (int t = 0; t < threads; ++t) f(t, boundary(t), boundary(t + 1));
}

}  // namespace glora::detail

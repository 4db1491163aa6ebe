// Eigen's heap allocations, trapped, for the tests that check that a call
// allocates nothing: with EIGEN_RUNTIME_NO_MALLOC Eigen checks each of its
// allocations against set_is_malloc_allowed(), and eigen_assert here turns a
// refused one into a std::logic_error in every build type (Eigen's own assert
// would abort, or pass silently under NDEBUG).
//
// Include it before anything that includes Eigen. The kernels such a test
// links are compiled with it too (no_malloc_kernels.cpp): every translation
// unit of the program must see the same Eigen.
#ifndef GLORA_TESTS_NO_MALLOC_HPP
#define GLORA_TESTS_NO_MALLOC_HPP

#include <stdexcept>

#define EIGEN_RUNTIME_NO_MALLOC
#define eigen_assert(x) \
  if (!(x)) throw std::logic_error("Eigen assertion failed: " #x)

#endif  // GLORA_TESTS_NO_MALLOC_HPP

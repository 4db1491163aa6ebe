// The compiled kernels of src/glora.cpp with Eigen's allocation trap on, built
// once for the tests that check that the kernels allocate nothing (those
// marked "ctest-no-malloc").
#include "no_malloc.hpp"

#include "../src/glora.cpp"

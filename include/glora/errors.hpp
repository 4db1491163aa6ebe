#pragma once
// glora::shape_error and the shape checks every public entry point runs before
// it writes anything.

#include <Eigen/Core>

#include <stdexcept>
#include <string>

namespace glora {

/// Thrown when a tensor's shape does not fit the layer. The message names the
/// entry point, the tensor, the expected shape and the actual one.
class shape_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

namespace detail {

inline std::string shape_string(Eigen::Index rows, Eigen::Index cols) {
  return std::to_string(rows) + " x " + std::to_string(cols);
}

/// Throws unless `actual` has exactly `rows` x `cols` entries.
template <typename Derived>
void check_shape(const char* where, const char* what, const Eigen::EigenBase<Derived>& actual,
                 Eigen::Index rows, Eigen::Index cols) {
  if (actual.rows() != rows || actual.cols() != cols) {
    throw shape_error(std::string(where) + ": " + what + " is " +
                      shape_string(actual.rows(), actual.cols()) + ", expected " +
                      shape_string(rows, cols));
  }
}

/// Throws unless `actual` has `rows` rows (any number of columns).
template <typename Derived>
void check_rows(const char* where, const char* what, const Eigen::EigenBase<Derived>& actual,
                Eigen::Index rows) {
  if (actual.rows() != rows) {
    throw shape_error(std::string(where) + ": " + what + " is " +
                      shape_string(actual.rows(), actual.cols()) + ", expected " +
                      std::to_string(rows) + " rows");
  }
}

}  // namespace detail
}  // namespace glora

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

/// The public call a check runs for, e.g. glora::LinearView::forward. Kept as
/// two pointers so that the checks a forward runs on every call build no
/// string; they are joined only for a message.
struct Call {
  const char* type;
  const char* method = nullptr;

  Call(const char* type_name, const char* method_name = nullptr)  // NOLINT: implicit on purpose
      : type(type_name), method(method_name) {}
  std::string str() const {
    return method != nullptr ? std::string(type) + "::" + method : std::string(type);
  }
};

inline std::string shape_string(Eigen::Index rows, Eigen::Index cols) {
  return std::to_string(rows) + " x " + std::to_string(cols);
}

/// Throws unless an argument of `actual_rows` x `actual_cols` is `rows` x `cols`.
/// Not a template: the message is built in one place, not once per argument type.
inline void check_dimensions(const Call& where, const char* what, Eigen::Index actual_rows,
                             Eigen::Index actual_cols, Eigen::Index rows, Eigen::Index cols) {
  if (actual_rows != rows || actual_cols != cols) {
    throw shape_error(where.str() + ": " + what + " is " + shape_string(actual_rows, actual_cols) +
                      ", expected " + shape_string(rows, cols));
  }
}

/// Throws unless `actual` has exactly `rows` x `cols` entries.
template <typename Derived>
void check_shape(const Call& where, const char* what, const Eigen::EigenBase<Derived>& actual,
                 Eigen::Index rows, Eigen::Index cols) {
  check_dimensions(where, what, actual.rows(), actual.cols(), rows, cols);
}

/// Throws unless `actual` (samples as columns) has `rows` rows; `meaning`
/// says where that number comes from (e.g. "in_features"). A matrix that has
/// them as columns instead is most likely a batch in row-major order, and the
/// message says how to pass it.
inline void check_row_count(const Call& where, const char* what, Eigen::Index actual_rows,
                            Eigen::Index actual_cols, Eigen::Index rows, const char* meaning) {
  if (actual_rows == rows) return;
  const std::string why = actual_cols == rows
                              ? std::string("samples are columns: pass ") + what +
                                    ".transpose() or a column-major view of the batch"
                              : std::string(meaning);
  throw shape_error(where.str() + ": " + what + " is " + shape_string(actual_rows, actual_cols) +
                    ", expected " + std::to_string(rows) + " rows (" + why + ")");
}
template <typename Derived>
void check_rows(const Call& where, const char* what, const Eigen::EigenBase<Derived>& actual,
                Eigen::Index rows, const char* meaning) {
  check_row_count(where, what, actual.rows(), actual.cols(), rows, meaning);
}

}  // namespace detail
}  // namespace glora

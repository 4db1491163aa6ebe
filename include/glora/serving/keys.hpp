#pragma once
// Keys of an adapter bank: the error for a key that names no adapter, and how
// a key is written in messages.

#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace glora {

/// Thrown when a key names no adapter of the bank (derives from
/// std::out_of_range). The message names the call and the key.
class unknown_adapter : public std::out_of_range {
 public:
  using std::out_of_range::out_of_range;
};

namespace detail {

template <typename Key, typename = void>
struct is_printable : std::false_type {};
template <typename Key>
struct is_printable<
    Key, std::void_t<decltype(std::declval<std::ostream&>() << std::declval<const Key&>())>>
    : std::true_type {};

/// A key as messages show it: text in double quotes, a number as written, any
/// other type through its operator<<, if it has one.
template <typename Key>
std::string key_text(const Key& key) {
  if constexpr (std::is_convertible_v<const Key&, std::string_view>) {
    return "\"" + std::string(std::string_view(key)) + "\"";
  } else if constexpr (std::is_arithmetic_v<Key>) {
    return std::to_string(key);
  } else if constexpr (is_printable<Key>::value) {
    std::ostringstream text;
    text << key;
    return text.str();
  } else {
    return "(a key without operator<<)";
  }
}

}  // namespace detail
}  // namespace glora

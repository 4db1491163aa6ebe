#pragma once
// The second file of the header-only link check (see one.cpp).
#include <cstddef>

namespace glora_link_check {
/// The bytes of an F32 value, as the second file's glora::io says.
std::size_t f32_size_in_other_file();
}  // namespace glora_link_check

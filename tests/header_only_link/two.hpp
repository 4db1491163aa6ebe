#pragma once
// The second file of the header-only link check (see one.cpp).
#include <cstdint>

namespace glora_link_check {
/// Where the buffer of an empty safetensors file starts, as parse_header finds it.
std::uint64_t empty_file_buffer_offset();
}  // namespace glora_link_check

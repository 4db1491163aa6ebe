// The second file of the header-only link check (see one.cpp).
#include "two.hpp"

#include <glora/glora.hpp>
#include <glora/io.hpp>
#include <glora/search.hpp>
#include <glora/serving.hpp>

namespace glora_link_check {
std::uint64_t empty_file_buffer_offset() {
  const unsigned char bytes[] = {2, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
  return glora::io::parse_header(bytes, sizeof bytes, "two.cpp").buffer_offset;
}
}  // namespace glora_link_check

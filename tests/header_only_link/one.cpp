// Two files that include every glora header, the file formats' too, header-only, linked into one
// program: a function defined in a header without `inline` would be defined in both, and the link
// would fail. (The suite's other programs use the compiled libraries, which hide that mistake.)
#include "two.hpp"

#include <glora/glora.hpp>
#include <glora/io.hpp>
#include <glora/search.hpp>
#include <glora/serving.hpp>

int main() {
  const unsigned char bytes[] = {2, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
  const std::uint64_t here = glora::io::parse_header(bytes, sizeof bytes, "one.cpp").buffer_offset;
  return here == 10 && glora_link_check::empty_file_buffer_offset() == 10 ? 0 : 1;
}

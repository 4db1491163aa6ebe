// Two files that include every glora header, the file formats' too, header-only, linked into one
// program: a function defined in a header without `inline` is compiled into both whether it is
// called or not, and the link fails. (The suite's other programs use the compiled libraries,
// which hide that mistake.) Neither file calls more than it must, to compile little.
#include "two.hpp"

#include <glora/glora.hpp>
#include <glora/io.hpp>
#include <glora/search.hpp>
#include <glora/serving.hpp>

int main() {
  return glora_link_check::f32_size_in_other_file() == glora::io::dtype_size(glora::io::DType::F32)
             ? 0
             : 1;
}

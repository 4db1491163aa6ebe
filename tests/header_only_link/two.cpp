// The second file of the header-only link check (see one.cpp).
#include "two.hpp"

#include <glora/glora.hpp>
#include <glora/io.hpp>
#include <glora/search.hpp>
#include <glora/serving.hpp>

namespace glora_link_check {
std::size_t f32_size_in_other_file() { return glora::io::dtype_size(glora::io::DType::F32); }
}  // namespace glora_link_check

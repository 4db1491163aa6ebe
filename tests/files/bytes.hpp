// Building safetensors files byte by byte, independently of the library's writer.
#ifndef GLORA_TESTS_FILES_BYTES_HPP
#define GLORA_TESTS_FILES_BYTES_HPP

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <string>
#include <vector>

namespace glora_test::files {

using Bytes = std::vector<unsigned char>;

/// The 8-byte little-endian length, the header text as given, then `buffer`.
inline Bytes safetensors(const std::string& header, const Bytes& buffer = {}) {
  Bytes b;
  const std::uint64_t n = header.size();
  for (int k = 0; k < 8; ++k) b.push_back(static_cast<unsigned char>(n >> (8 * k)));
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), buffer.begin(), buffer.end());
  return b;
}

/// The little-endian bytes of float values.
inline Bytes f32(std::initializer_list<float> values) {
  Bytes b(values.size() * sizeof(float));
  if (!b.empty()) std::memcpy(b.data(), values.begin(), b.size());
  return b;
}

inline void write_file(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

inline Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace glora_test::files

#endif

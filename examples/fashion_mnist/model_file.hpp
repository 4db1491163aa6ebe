#pragma once
// Saving and loading a plain MLP, so that reruns can skip pretraining.
//
// Format (native byte order, the file is a cache, not an exchange format):
//   "glora-mlp-v1\n", the layer count (uint32), then per layer its rows and
//   columns (uint32 each), the weight column by column, the bias (float32).

#include "network.hpp"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace fmnist {

namespace detail {
constexpr char kModelMagic[] = "glora-mlp-v1\n";
}  // namespace detail

inline bool save_mlp(const Mlp& mlp, const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  const auto put_u32 = [&out](std::uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
  out.write(detail::kModelMagic, sizeof detail::kModelMagic - 1);
  put_u32(static_cast<std::uint32_t>(mlp.size()));
  for (const Dense& layer : mlp) {
    put_u32(static_cast<std::uint32_t>(layer.weight.rows()));
    put_u32(static_cast<std::uint32_t>(layer.weight.cols()));
    out.write(reinterpret_cast<const char*>(layer.weight.data()),
              static_cast<std::streamsize>(sizeof(float) *
                                           static_cast<std::size_t>(layer.weight.size())));
    out.write(
        reinterpret_cast<const char*>(layer.bias.data()),
        static_cast<std::streamsize>(sizeof(float) * static_cast<std::size_t>(layer.bias.size())));
  }
  return static_cast<bool>(out);
}

/// The MLP in `path` if it exists and has exactly the layer sizes `sizes`;
/// nothing otherwise (the caller then trains a new one).
inline std::optional<Mlp> load_mlp(const std::string& path,
                                   const std::vector<Eigen::Index>& sizes) {
  std::ifstream in(path, std::ios::binary);
  char magic[sizeof detail::kModelMagic - 1] = {};
  if (!in.read(magic, sizeof magic) || std::memcmp(magic, detail::kModelMagic, sizeof magic) != 0) {
    return std::nullopt;
  }
  const auto get_u32 = [&in]() {
    std::uint32_t v = 0;
    in.read(reinterpret_cast<char*>(&v), 4);
    return v;
  };
  if (get_u32() + 1 != sizes.size()) return std::nullopt;
  Mlp mlp;
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
    const std::uint32_t rows = get_u32();
    const std::uint32_t cols = get_u32();
    if (!in || rows != sizes[l + 1] || cols != sizes[l]) return std::nullopt;
    Dense layer(Matrix(rows, cols), glora::VectorX<float>(rows));
    in.read(reinterpret_cast<char*>(layer.weight.data()),
            static_cast<std::streamsize>(sizeof(float) *
                                         static_cast<std::size_t>(layer.weight.size())));
    in.read(
        reinterpret_cast<char*>(layer.bias.data()),
        static_cast<std::streamsize>(sizeof(float) * static_cast<std::size_t>(layer.bias.size())));
    mlp.push_back(std::move(layer));
  }
  if (!in || in.peek() != std::ifstream::traits_type::eof()) return std::nullopt;
  return mlp;
}

}  // namespace fmnist

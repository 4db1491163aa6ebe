#pragma once
// Numbers as the tool prints them for people (JSON output keeps them exact).

#include <cstdint>
#include <string>

namespace glora::cli {

/// Bytes in decimal units with three significant digits: "512 B", "2.05 kB", "1.07 GB".
std::string human_bytes(std::uint64_t bytes);

/// A duration: "0.4 s", "12 s", "3 min 05 s".
std::string human_seconds(double seconds);

}  // namespace glora::cli

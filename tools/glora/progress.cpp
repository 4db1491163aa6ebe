#include "progress.hpp"

#include "format.hpp"

#include <cstdio>

#include <unistd.h>

namespace glora::cli {

namespace {
constexpr std::chrono::milliseconds redraw_interval{100};
}

Progress::Progress(bool enabled, std::uint64_t total_bytes, std::size_t total_layers)
    : enabled_(enabled),
      total_bytes_(total_bytes),
      total_layers_(total_layers),
      start_(std::chrono::steady_clock::now()),
      drawn_(start_) {}

bool Progress::wanted(bool quiet) { return !quiet && ::isatty(STDERR_FILENO) == 1; }

void Progress::add_bytes(std::uint64_t bytes) {
  bytes_ += bytes;
  if (enabled_ && std::chrono::steady_clock::now() - drawn_ >= redraw_interval) draw();
}

void Progress::layer_done() {
  ++layers_;
  if (enabled_) draw();
}

void Progress::draw() {
  const auto now = std::chrono::steady_clock::now();
  drawn_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  std::string line = "merging: " + std::to_string(layers_) + "/" + std::to_string(total_layers_) +
                     " layers, " + human_bytes(bytes_) + " of " + human_bytes(total_bytes_);
  if (bytes_ > 0 && elapsed > 0.5) {
    const double left = elapsed *
                        static_cast<double>(total_bytes_ > bytes_ ? total_bytes_ - bytes_ : 0) /
                        static_cast<double>(bytes_);
    line += ", " + human_seconds(left) + " left";
  }
  const std::size_t width = line.size();
  if (width < width_) line.append(width_ - width, ' ');  // cover the longer line before
  width_ = width;
  std::fprintf(stderr, "\r%s", line.c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (!enabled_) return;
  enabled_ = false;
  if (width_ == 0) return;
  std::fprintf(stderr, "\r%s\r", std::string(width_, ' ').c_str());
  std::fflush(stderr);
  width_ = 0;
}

}  // namespace glora::cli

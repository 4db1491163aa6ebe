#pragma once
// The progress of a long merge, redrawn on one line of the terminal: layers
// done, bytes written, time left. Silent unless enabled (stderr a terminal
// and no --quiet), so that scripts and logs see only the final summary.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace glora::cli {

class Progress {
 public:
  /// `total_bytes`: of the output; `total_layers`: the layers to merge.
  Progress(bool enabled, std::uint64_t total_bytes, std::size_t total_layers);
  ~Progress() { finish(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// Whether progress should be drawn: stderr is a terminal and not `quiet`.
  static bool wanted(bool quiet);

  void add_bytes(std::uint64_t bytes);
  void layer_done();
  /// Clears the line (once; later calls do nothing).
  void finish();

 private:
  void draw();

  bool enabled_;
  std::uint64_t total_bytes_, bytes_ = 0;
  std::size_t total_layers_, layers_ = 0;
  std::chrono::steady_clock::time_point start_, drawn_;
  std::size_t width_ = 0;  // of the line last drawn
};

}  // namespace glora::cli

#pragma once
// The header of a safetensors file, parsed and checked against every rule of
// the format before any tensor is touched:
//
//   [8 bytes: N, little-endian u64] [N bytes: JSON object] [buffer]
//
// The JSON maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]}
// (offsets relative to the buffer) and may hold "__metadata__", an object of strings.

#include <glora/io/dtype.hpp>
#include <glora/io/file_error.hpp>
#include <glora/io/linkage.hpp>
#include <glora/io/mapped_file.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace glora::io {

/// The most header bytes a reader accepts: bounds what a hostile file can make it allocate.
inline constexpr std::uint64_t max_header_length = 100'000'000;
/// The deepest JSON nesting a header may have (a valid one has three levels).
inline constexpr std::size_t max_header_depth = 64;

/// One tensor's entry. begin and end are byte offsets in the buffer (end is one past the last).
struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::uint64_t> shape;  // PyTorch order: row-major, last index fastest
  std::uint64_t begin = 0;
  std::uint64_t end = 0;

  std::uint64_t elements() const {
    std::uint64_t n = 1;
    for (const std::uint64_t d : shape) n *= d;  // checked not to overflow when parsed
    return n;
  }
  std::uint64_t bytes() const { return end - begin; }
};

/// A parsed, validated header.
struct Header {
  std::uint64_t length = 0;         // N
  std::uint64_t buffer_offset = 0;  // 8 + N: where the buffer starts in the file
  std::vector<TensorInfo> tensors;  // in buffer order
  std::map<std::string, std::string> metadata;
};

/// "[2, 3]": a shape as PyTorch prints it.
inline std::string shape_string(const std::vector<std::uint64_t>& shape) {
  std::string text = "[";
  for (std::size_t k = 0; k < shape.size(); ++k) {
    if (k > 0) text += ", ";
    text += std::to_string(shape[k]);
  }
  return text + "]";
}

namespace detail {

inline std::string offsets_string(std::uint64_t begin, std::uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

/// nlohmann's message without its "[json.exception.x.y] " prefix, with bytes
/// outside printable ASCII (it quotes the input it last read) written as \xNN.
GLORA_IO_INLINE std::string json_reason(const std::exception& e);

/// Parses `text` as JSON, rejecting duplicate keys (which JSON readers resolve
/// differently) and nesting deeper than max_header_depth. `what` names the
/// text in messages ("the header (bytes 8 to 100)").
GLORA_IO_INLINE nlohmann::json parse_strict_json(const std::string& path, const std::string& what,
                                                 const char* first, const char* last);

/// Reads the whole file at `path` as strict JSON (parse_strict_json), which
/// must be one object: a configuration or an index.
GLORA_IO_INLINE nlohmann::json read_json_object(const std::string& path);

inline std::uint64_t read_u64_le(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int k = 7; k >= 0; --k) v = (v << 8) | p[k];
  return v;
}

/// Reads one tensor entry; checks its fields, its sizes and its offsets' span.
GLORA_IO_INLINE TensorInfo parse_entry(const std::string& path, const std::string& name,
                                       const nlohmann::json& entry);

/// Tensors sorted by offset must tile the buffer from 0 with neither gaps nor overlaps.
GLORA_IO_INLINE void check_tiling(const std::string& path, std::vector<TensorInfo>& tensors);

}  // namespace detail

/// Parses and validates the header of the safetensors bytes [data, data + size).
/// Throws file_error, naming `path`, the tensor and the rule, for any file
/// that breaks the format. Never reads outside the given bytes.
GLORA_IO_INLINE Header parse_header(const unsigned char* data, std::size_t size,
                                    const std::string& path);

}  // namespace glora::io

// The definitions of the functions declared above (see linkage.hpp).
#if GLORA_IO_DEFINE
namespace glora::io {

namespace detail {

GLORA_IO_INLINE std::string json_reason(const std::exception& e) {
  std::string what = e.what();
  const std::size_t close = what.find("] ");
  if (what.rfind("[json.exception.", 0) == 0 && close != std::string::npos) {
    what = what.substr(close + 2);
  }
  std::string printable;
  for (const char c : what) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
      printable += c;
    } else {
      const char* hex = "0123456789abcdef";
      printable += std::string("\\x") + hex[byte >> 4] + hex[byte & 15];
    }
  }
  return printable;
}

GLORA_IO_INLINE nlohmann::json parse_strict_json(const std::string& path, const std::string& what,
                                                 const char* first, const char* last) {
  struct Rejected {
    std::string reason;
  };
  std::vector<std::set<std::string>> keys;  // the keys seen in each open object
  const auto check = [&keys](int depth, nlohmann::json::parse_event_t event,
                             nlohmann::json& parsed) {
    using event_t = nlohmann::json::parse_event_t;
    if (static_cast<std::size_t>(depth) > max_header_depth) {
      throw Rejected{"it nests deeper than " + std::to_string(max_header_depth) + " levels"};
    }
    if (event == event_t::object_start) keys.emplace_back();
    if (event == event_t::object_end && !keys.empty()) keys.pop_back();
    if (event == event_t::key && !keys.empty()) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!keys.back().insert(key).second) {
        throw Rejected{"it has the key \"" + key + "\" twice in one object"};
      }
    }
    return true;
  };
  try {
    return nlohmann::json::parse(first, last, check);
  } catch (const Rejected& r) {
    fail(path, what + " is not accepted: " + r.reason);
  } catch (const nlohmann::json::exception& e) {
    fail(path, what + " is not valid UTF-8 JSON: " + json_reason(e));
  }
}

GLORA_IO_INLINE nlohmann::json read_json_object(const std::string& path) {
  const MappedFile bytes(path);
  const auto* text = reinterpret_cast<const char*>(bytes.data());
  nlohmann::json json = parse_strict_json(path, "the file", text, text + bytes.size());
  if (!json.is_object()) {
    fail(path, "is " + std::string(json.type_name()) + ", not a JSON object");
  }
  return json;
}

GLORA_IO_INLINE TensorInfo parse_entry(const std::string& path, const std::string& name,
                                       const nlohmann::json& entry) {
  const std::string where = "tensor " + quote(name) + ": ";
  if (!entry.is_object()) {
    fail(path, where + "the entry is " + std::string(entry.type_name()) +
                   ", not an object with dtype, shape and data_offsets");
  }
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!entry.contains(field)) fail(path, where + "\"" + field + "\" is missing");
  }
  TensorInfo t;
  t.name = name;
  const nlohmann::json& dtype = entry["dtype"];
  if (!dtype.is_string()) {
    fail(path, where + "\"dtype\" is " + std::string(dtype.type_name()) + ", not a string");
  }
  const auto parsed = parse_dtype(dtype.get_ref<const std::string&>());
  if (!parsed) fail(path, where + "unknown dtype \"" + dtype.get<std::string>() + "\"");
  t.dtype = *parsed;

  const nlohmann::json& shape = entry["shape"];
  const auto all_unsigned = [](const nlohmann::json& a) {
    return std::all_of(a.begin(), a.end(),
                       [](const nlohmann::json& v) { return v.is_number_unsigned(); });
  };
  if (!shape.is_array() || !all_unsigned(shape)) {
    fail(path, where + "\"shape\" is not an array of non-negative integers");
  }
  const nlohmann::json& offsets = entry["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !all_unsigned(offsets)) {
    fail(path, where + "\"data_offsets\" is not two non-negative integers [begin, end]");
  }
  std::uint64_t bytes = dtype_size(t.dtype);
  bool overflow = false;
  for (const nlohmann::json& d : shape) {
    const auto extent = d.get<std::uint64_t>();
    t.shape.push_back(extent);
    if (extent != 0 && bytes > UINT64_MAX / extent) overflow = true;
    bytes *= extent;
  }
  if (std::find(t.shape.begin(), t.shape.end(), 0) != t.shape.end()) {
    overflow = false;  // a zero extent makes the product 0 whatever the others are
    bytes = 0;
  }
  if (overflow) {
    fail(path, where + "the size of " + dtype_name(t.dtype) + " " + shape_string(t.shape) +
                   " overflows 64 bits");
  }
  t.begin = offsets[0].get<std::uint64_t>();
  t.end = offsets[1].get<std::uint64_t>();
  const std::string span = "data_offsets " + offsets_string(t.begin, t.end);
  if (t.end < t.begin) fail(path, where + span + " end before they begin");
  if (t.end - t.begin != bytes) {
    fail(path, where + span + " hold " + std::to_string(t.end - t.begin) + " bytes, but " +
                   dtype_name(t.dtype) + " " + shape_string(t.shape) + " takes " +
                   std::to_string(bytes));
  }
  return t;
}

GLORA_IO_INLINE void check_tiling(const std::string& path, std::vector<TensorInfo>& tensors) {
  std::stable_sort(tensors.begin(), tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const TensorInfo* previous = nullptr;
  for (const TensorInfo& t : tensors) {
    const std::uint64_t expected = previous ? previous->end : 0;
    if (t.begin != expected) {
      const std::string after = previous ? "tensor " + quote(previous->name) + " " +
                                               offsets_string(previous->begin, previous->end)
                                         : std::string("the start of the buffer");
      fail(path, "tensor " + quote(t.name) + ": data_offsets " + offsets_string(t.begin, t.end) +
                     (t.begin > expected ? " leave a gap after " : " overlap ") + after +
                     " (tensors must tile the buffer from offset 0)");
    }
    previous = &t;
  }
}

}  // namespace detail

GLORA_IO_INLINE Header parse_header(const unsigned char* data, std::size_t size,
                                    const std::string& path) {
  using detail::fail;
  if (size < 8) {
    fail(path, "the file is " + std::to_string(size) +
                   " bytes; a safetensors file starts with an 8-byte header length");
  }
  Header h;
  h.length = detail::read_u64_le(data);
  if (h.length > max_header_length) {
    fail(path, "the header length " + std::to_string(h.length) + " is over the limit of " +
                   std::to_string(max_header_length) + " bytes");
  }
  if (h.length > size - 8) {
    fail(path, "the header length " + std::to_string(h.length) +
                   " runs past the end of the file (the header would end at byte " +
                   std::to_string(8 + h.length) + ", the file has " + std::to_string(size) +
                   " bytes)");
  }
  h.buffer_offset = 8 + h.length;
  const auto* text = reinterpret_cast<const char*>(data + 8);
  const std::string what = "the header (bytes 8 to " + std::to_string(h.buffer_offset) + ")";
  const nlohmann::json json = detail::parse_strict_json(path, what, text, text + h.length);
  if (!json.is_object()) {
    fail(path, what + " is " + std::string(json.type_name()) + ", not a JSON object");
  }
  for (const auto& item : json.items()) {
    if (item.key() != "__metadata__") {
      h.tensors.push_back(detail::parse_entry(path, item.key(), item.value()));
      continue;
    }
    if (!item.value().is_object()) {
      fail(path, "\"__metadata__\" is " + std::string(item.value().type_name()) +
                     ", not an object of strings");
    }
    for (const auto& m : item.value().items()) {
      if (!m.value().is_string()) {
        fail(path, "__metadata__ " + detail::quote(m.key()) + " is " +
                       std::string(m.value().type_name()) + ", not a string");
      }
      h.metadata.emplace(m.key(), m.value().get<std::string>());
    }
  }
  detail::check_tiling(path, h.tensors);
  const std::uint64_t buffer = size - h.buffer_offset;
  const std::uint64_t used = h.tensors.empty() ? 0 : h.tensors.back().end;
  if (buffer != used) {
    fail(path, "the buffer is " + std::to_string(buffer) + " bytes (file bytes " +
                   std::to_string(h.buffer_offset) + " to " + std::to_string(size) +
                   "), but the tensors end at byte " + std::to_string(used) + " of it");
  }
  return h;
}

}  // namespace glora::io
#endif  // GLORA_IO_DEFINE

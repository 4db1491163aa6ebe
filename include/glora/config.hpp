#pragma once
// LayerConfig: the kind of each slot chosen at run time, and its text form in
// the reference's spelling,
//
//   {"A": "LoRA_4", "B": "vector", "C": "none", "D": "constant", "E": "vector"}
//
// The compile-time kinds (None, Scalar, Vector, LowRank<R>) map onto it with
// config_of<KA, ..., KE>(); a LayerConfig is what files store, what a search
// explores and what a run-time configured layer is set to.

#include <glora/kinds.hpp>

#include <Eigen/Core>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace glora {

/// Thrown for a configuration that GLoRA does not allow or text that does not
/// spell one. The message names the slot and what is wrong with it.
class config_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// The kind of a slot as a run-time value (the compile-time kinds are types).
enum class Kind : std::uint8_t { none, scalar, vector, low_rank };

/// The choice for one slot: a kind, and for Kind::low_rank its rank (else 0).
struct Choice {
  Kind kind = Kind::none;
  int rank = 0;

  static constexpr Choice none() { return {Kind::none, 0}; }
  static constexpr Choice scalar() { return {Kind::scalar, 0}; }
  static constexpr Choice vector() { return {Kind::vector, 0}; }
  static constexpr Choice low_rank(int r) { return {Kind::low_rank, r}; }

  friend constexpr bool operator==(Choice a, Choice b) {
    return a.kind == b.kind && a.rank == b.rank;
  }
  friend constexpr bool operator!=(Choice a, Choice b) { return !(a == b); }
  friend constexpr bool operator<(Choice a, Choice b) {
    return a.kind != b.kind ? a.kind < b.kind : a.rank < b.rank;
  }
};

/// The choice that the compile-time kind K stands for.
template <typename K>
constexpr Choice choice_of() {
  static_assert(is_kind_v<K>, "glora::choice_of: K must be None, Scalar, Vector or LowRank<R>");
  if constexpr (std::is_same_v<K, Scalar>) {
    return Choice::scalar();
  } else if constexpr (std::is_same_v<K, Vector>) {
    return Choice::vector();
  } else if constexpr (is_low_rank_v<K>) {
    return Choice::low_rank(rank_v<K>);
  } else {
    return Choice::none();
  }
}

/// One choice per slot.
struct LayerConfig {
  Choice A, B, C, D, E;

  constexpr Choice& operator[](Slot s) {
    return s == Slot::A ? A : s == Slot::B ? B : s == Slot::C ? C : s == Slot::D ? D : E;
  }
  constexpr const Choice& operator[](Slot s) const {
    return s == Slot::A ? A : s == Slot::B ? B : s == Slot::C ? C : s == Slot::D ? D : E;
  }

  friend constexpr bool operator==(const LayerConfig& x, const LayerConfig& y) {
    return x.A == y.A && x.B == y.B && x.C == y.C && x.D == y.D && x.E == y.E;
  }
  friend constexpr bool operator!=(const LayerConfig& x, const LayerConfig& y) { return !(x == y); }
  /// Lexicographic over A..E: lets configurations key an ordered container.
  friend constexpr bool operator<(const LayerConfig& x, const LayerConfig& y) {
    for (const Slot s : {Slot::A, Slot::B, Slot::C, Slot::D, Slot::E}) {
      if (x[s] != y[s]) return x[s] < y[s];
    }
    return false;
  }
};

/// The configuration that a compile-time layer of kinds KA..KE has.
template <typename KA, typename KB, typename KC, typename KD, typename KE>
constexpr LayerConfig config_of() {
  return {choice_of<KA>(), choice_of<KB>(), choice_of<KC>(), choice_of<KD>(), choice_of<KE>()};
}

/// Whether GLoRA allows `c` in slot `s`: a low rank needs a positive rank and
/// slot A, B or C. (Scalar in C is this library's extension of the reference.)
constexpr bool allowed(Slot s, Choice c) {
  if (c.kind != Kind::low_rank) return c.rank == 0;
  return c.rank > 0 && s != Slot::D && s != Slot::E;
}

/// The reference's spelling: "LoRA_<r>", "vector", "constant" or "none".
inline std::string to_string(Choice c) {
  switch (c.kind) {
    case Kind::none: return "none";
    case Kind::scalar: return "constant";
    case Kind::vector: return "vector";
    case Kind::low_rank: return "LoRA_" + std::to_string(c.rank);
  }
  return "?";
}

/// The compile-time kind's name: "None", "Scalar", "Vector" or "LowRank<r>".
inline std::string kind_name(Choice c) {
  switch (c.kind) {
    case Kind::none: return "None";
    case Kind::scalar: return "Scalar";
    case Kind::vector: return "Vector";
    case Kind::low_rank: return "LowRank<" + std::to_string(c.rank) + ">";
  }
  return "?";
}

/// The reference's text form: {"A": "LoRA_4", "B": "vector", "C": "none", "D": "constant", "E":
/// "vector"}.
inline std::string to_string(const LayerConfig& config) {
  std::string text = "{";
  for (const Slot s : all_slots) {
    if (s != Slot::A) text += ", ";
    text += std::string("\"") + slot_letter(s) + "\": \"" + to_string(config[s]) + "\"";
  }
  return text + "}";
}

/// The compact form used in listings: A=LoRA_4 B=vector C=none D=constant E=vector.
inline std::string to_short_string(const LayerConfig& config) {
  std::string text;
  for (const Slot s : all_slots) {
    if (s != Slot::A) text += ' ';
    text += std::string(slot_letter(s)) + "=" + to_string(config[s]);
  }
  return text;
}

/// The compile-time layer type of this configuration, e.g.
/// glora::Linear<float, glora::LowRank<4>, glora::Vector, glora::None, glora::None, glora::Vector>.
inline std::string cpp_type(const LayerConfig& config, std::string_view scalar = "float") {
  std::string text = "glora::Linear<" + std::string(scalar);
  for (const Slot s : all_slots) text += ", glora::" + kind_name(config[s]);
  return text + ">";
}

namespace detail {

inline std::string allowed_choices(Slot s) {
  switch (s) {
    case Slot::A:
    case Slot::B: return "LoRA_<r>, vector, constant or none";
    case Slot::C: return "LoRA_<r>, vector or none (constant as an extension)";
    case Slot::D:
    case Slot::E: return "vector, constant or none";
  }
  return "?";
}

/// What is wrong with choice `c` in slot `s`, in words ("" when it is allowed).
inline std::string choice_problem(Slot s, Choice c) {
  const std::string slot = std::string("slot ") + slot_letter(s);
  if (c.kind != Kind::none && c.kind != Kind::scalar && c.kind != Kind::vector &&
      c.kind != Kind::low_rank) {
    return slot + ": the kind " + std::to_string(static_cast<int>(c.kind)) +
           " is none of none, scalar, vector and low_rank";
  }
  if (c.kind != Kind::low_rank && c.rank != 0) {
    return slot + ": " + to_string(c) + " has the rank " + std::to_string(c.rank) +
           " (only LoRA_<r> has a rank)";
  }
  if (c.kind == Kind::low_rank && c.rank <= 0) {
    return slot + ": the rank of " + to_string(c) + " must be positive";
  }
  if (!allowed(s, c)) {
    return slot + " cannot be " + to_string(c) + " (it takes " + allowed_choices(s) + ")";
  }
  return {};
}

/// Reads the reference's spelling of a choice into `c`; returns what is wrong
/// with `text` in words, or "" when it spells a choice allowed in slot `s`.
inline std::string read_choice(Slot s, std::string_view text, Choice& c) {
  const std::string slot = std::string("slot ") + slot_letter(s);
  if (text == "none") {
    c = Choice::none();
  } else if (text == "vector") {
    c = Choice::vector();
  } else if (text == "constant") {
    c = Choice::scalar();
  } else if (text.substr(0, 5) == "LoRA_") {
    // At most six digits, so that the rank fits an int; no leading zero, so
    // that every rank has one spelling.
    const std::string_view digits = text.substr(5);
    bool ok = !digits.empty() && digits.size() <= 6 && digits[0] != '0';
    int rank = 0;
    for (const char ch : digits) {
      ok = ok && ch >= '0' && ch <= '9';
      if (ok) rank = rank * 10 + (ch - '0');
    }
    if (!ok) {
      return slot + ": \"" + std::string(text) +
             "\" is not a LoRA rank (expected LoRA_<r> with r a positive integer of at most six "
             "digits, no leading zero)";
    }
    c = Choice::low_rank(rank);
  } else {
    return slot + ": unknown choice \"" + std::string(text) + "\" (it takes " + allowed_choices(s) +
           ")";
  }
  return choice_problem(s, c);
}

}  // namespace detail

/// Throws config_error unless every slot's choice is allowed there (the kind
/// is one of the four, only a low rank has a rank and it is positive, and a
/// low rank is in A, B or C).
inline void validate(const LayerConfig& config) {
  for (const Slot s : all_slots) {
    const std::string problem = detail::choice_problem(s, config[s]);
    if (!problem.empty()) throw config_error("glora: " + problem);
  }
}

/// Parses the reference's spelling of one choice for slot `s` ("LoRA_4",
/// "vector", "constant", "none"). Throws config_error naming the slot and the
/// text, e.g. `glora: slot D cannot be LoRA_4 (it takes vector, constant or none)`.
inline Choice parse_choice(Slot s, std::string_view text) {
  Choice c;
  const std::string problem = detail::read_choice(s, text, c);
  if (!problem.empty()) throw config_error("glora: " + problem);
  return c;
}

namespace detail {

/// A reader of the one-level object `{"A": "...", ...}`, with the keys and
/// values in double quotes (JSON) or single quotes (as Python prints a dict).
/// Escapes are not needed: no key or choice contains a quote or a backslash.
class ConfigText {
 public:
  explicit ConfigText(std::string_view text) : text_(text) {}

  LayerConfig parse() {
    LayerConfig config;
    bool seen[5] = {false, false, false, false, false};
    expect('{', "'{' (a config is an object)");
    if (!peek('}')) {
      do {
        const std::size_t key_at = skip_space();
        const std::string key = quoted("a slot name");
        if (key.size() != 1 || key[0] < 'A' || key[0] > 'E') {
          fail(key_at, "unknown slot \"" + key + "\" (the slots are A, B, C, D and E)");
        }
        const auto index = static_cast<std::size_t>(key[0] - 'A');
        if (seen[index]) fail(key_at, "slot " + key + " appears twice");
        seen[index] = true;
        expect(':', "':' after the slot name");
        const Slot s = all_slots[index];
        const std::size_t value_at = skip_space();
        const std::string problem = read_choice(s, quoted("a choice"), config[s]);
        if (!problem.empty()) fail(value_at, problem);
      } while (accept(','));
    }
    expect('}', "',' or '}'");
    if (skip_space() != text_.size()) fail(pos_, "unexpected text after the closing brace");
    for (const Slot s : all_slots) {
      if (!seen[static_cast<int>(s)]) {
        throw config_error(std::string("glora: layer config: slot ") + slot_letter(s) +
                           " is missing (a config names all of A, B, C, D and E) in " + excerpt());
      }
    }
    return config;
  }

 private:
  [[noreturn]] void fail(std::size_t at, const std::string& what) const {
    throw config_error("glora: layer config: " + what + " at character " + std::to_string(at) +
                       " of " + excerpt());
  }

  /// The text as the message quotes it: whole up to 80 characters, else its start.
  std::string excerpt() const {
    constexpr std::size_t limit = 80;
    if (text_.empty()) return "an empty text";
    return text_.size() <= limit ? std::string(text_) : std::string(text_.substr(0, limit)) + "...";
  }

  /// Skips blanks; returns the position reached.
  std::size_t skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
    return pos_;
  }

  bool peek(char c) {
    skip_space();
    return pos_ < text_.size() && text_[pos_] == c;
  }

  bool accept(char c) {
    if (!peek(c)) return false;
    ++pos_;
    return true;
  }

  void expect(char c, const char* what) {
    if (accept(c)) return;
    fail(pos_, std::string("expected ") + what +
                   (pos_ < text_.size() ? std::string(", found '") + text_[pos_] + "'"
                                        : std::string(", found the end of the text")));
  }

  std::string quoted(const char* what) {
    const std::size_t start = skip_space();
    if (start >= text_.size() || (text_[start] != '"' && text_[start] != '\'')) {
      fail(start, std::string("expected ") + what + " in quotes");
    }
    const char quote = text_[start];
    const std::size_t end = text_.find(quote, start + 1);
    if (end == std::string_view::npos) {
      fail(start, std::string("the quote that opens ") + what + " is never closed");
    }
    pos_ = end + 1;
    return std::string(text_.substr(start + 1, end - start - 1));
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace detail

/// Parses a configuration from its text form: an object with the keys "A" to
/// "E", each exactly once, in JSON (double quotes) or as Python prints a dict
/// (single quotes); blanks between tokens are ignored. Throws config_error
/// naming what is wrong, the character where it is and the text, e.g.
/// `glora: layer config: slot A appears twice at character 15 of {"A": ...}`.
inline LayerConfig parse_layer_config(std::string_view text) {
  return detail::ConfigText(text).parse();
}

namespace detail {

/// Trainable parameters of choice `c` in slot `s` of an out x in layer.
inline Eigen::Index slot_parameter_count(Slot s, Choice c, Eigen::Index out, Eigen::Index in) {
  switch (c.kind) {
    case Kind::none: return 0;
    case Kind::scalar: return 1;
    case Kind::vector: return s == Slot::C ? in : out;
    case Kind::low_rank: return c.rank * (s == Slot::C ? in + 1 : out + in);
  }
  return 0;
}

}  // namespace detail

/// Trainable parameters of a configuration on an out x in layer:
/// LoRA_k in A or B: k (out + in); in C: k (in + 1); vector: out for A, B, D,
/// E and in for C; constant: 1; none: 0.
inline Eigen::Index parameter_count(const LayerConfig& config, Eigen::Index out, Eigen::Index in) {
  Eigen::Index count = 0;
  for (const Slot s : all_slots) count += detail::slot_parameter_count(s, config[s], out, in);
  return count;
}

}  // namespace glora

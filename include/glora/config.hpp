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

}  // namespace detail

/// Throws config_error unless every slot's choice is allowed there.
inline void validate(const LayerConfig& config) {
  for (const Slot s : all_slots) {
    const Choice c = config[s];
    if (allowed(s, c)) continue;
    if (c.kind == Kind::low_rank && c.rank <= 0) {
      throw config_error(std::string("glora: slot ") + slot_letter(s) + ": the rank of " +
                         to_string(c) + " must be positive");
    }
    throw config_error(std::string("glora: slot ") + slot_letter(s) + " cannot be " + to_string(c) +
                       " (it takes " + detail::allowed_choices(s) + ")");
  }
}

/// Parses the reference's spelling of one choice for slot `s` ("LoRA_4",
/// "vector", "constant", "none"). Throws config_error naming the slot and the text.
inline Choice parse_choice(Slot s, std::string_view text) {
  const std::string slot = std::string("glora: slot ") + slot_letter(s);
  Choice c;
  if (text == "none") {
    c = Choice::none();
  } else if (text == "vector") {
    c = Choice::vector();
  } else if (text == "constant") {
    c = Choice::scalar();
  } else if (text.substr(0, 5) == "LoRA_") {
    const std::string_view digits = text.substr(5);
    long rank = 0;
    bool ok = !digits.empty() && digits.size() <= 6 && digits[0] != '0';
    for (const char ch : digits) {
      ok = ok && ch >= '0' && ch <= '9';
      if (ok) rank = rank * 10 + (ch - '0');
    }
    if (!ok) {
      throw config_error(slot + ": \"" + std::string(text) +
                         "\" is not a LoRA rank (expected LoRA_<r> with r a positive integer)");
    }
    c = Choice::low_rank(static_cast<int>(rank));
  } else {
    throw config_error(slot + ": unknown choice \"" + std::string(text) + "\" (it takes " +
                       detail::allowed_choices(s) + ")");
  }
  if (!allowed(s, c)) {
    throw config_error(slot + " cannot be " + std::string(text) + " (it takes " +
                       detail::allowed_choices(s) + ")");
  }
  return c;
}

namespace detail {

/// A reader of the one-level object `{"A": "...", ...}`, with the keys and
/// values in double quotes (JSON) or single quotes (as Python prints a dict).
class ConfigText {
 public:
  explicit ConfigText(std::string_view text) : text_(text) {}

  LayerConfig parse() {
    LayerConfig config;
    bool seen[5] = {false, false, false, false, false};
    expect('{');
    if (!peek('}')) {
      do {
        const std::string key = quoted("a slot name");
        if (key.size() != 1 || key[0] < 'A' || key[0] > 'E') {
          fail("unknown slot \"" + key + "\" (the slots are A, B, C, D and E)");
        }
        const int index = key[0] - 'A';
        if (seen[index]) fail("slot " + key + " appears twice");
        seen[index] = true;
        expect(':');
        const Slot s = static_cast<Slot>(index);
        config[s] = parse_choice(s, quoted("a choice"));
      } while (accept(','));
    }
    expect('}');
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the closing brace");
    for (const Slot s : all_slots) {
      if (!seen[static_cast<int>(s)]) {
        throw config_error(std::string("glora: layer config: slot ") + slot_letter(s) +
                           " is missing (a config names all of A, B, C, D and E)");
      }
    }
    return config;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw config_error("glora: layer config: " + what + " at character " + std::to_string(pos_) +
                       " of " + excerpt());
  }

  std::string excerpt() const {
    constexpr std::size_t limit = 80;
    return text_.size() <= limit ? "'" + std::string(text_) + "'"
                                 : "'" + std::string(text_.substr(0, limit)) + "...'";
  }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
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

  void expect(char c) {
    if (!accept(c)) fail(std::string("expected '") + c + "'");
  }

  std::string quoted(const char* what) {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '"' && text_[pos_] != '\'')) {
      fail(std::string("expected ") + what + " in quotes");
    }
    const char quote = text_[pos_++];
    const std::size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos) fail("unterminated string");
    const std::string value(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return value;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace detail

/// Parses a configuration from its text form: an object with the keys "A" to
/// "E", each exactly once, in JSON (double quotes) or as Python prints a dict
/// (single quotes). Throws config_error naming what is wrong and where.
inline LayerConfig parse_layer_config(std::string_view text) {
  return detail::ConfigText(text).parse();
}

/// Trainable parameters of a configuration on an out x in layer:
/// LoRA_k in A or B: k (out + in); in C: k (in + 1); vector: out for A, B, D,
/// E and in for C; constant: 1; none: 0.
inline Eigen::Index parameter_count(const LayerConfig& config, Eigen::Index out, Eigen::Index in) {
  Eigen::Index count = 0;
  for (const Slot s : all_slots) {
    const Choice c = config[s];
    switch (c.kind) {
      case Kind::none: break;
      case Kind::scalar: count += 1; break;
      case Kind::vector: count += s == Slot::C ? in : out; break;
      case Kind::low_rank: count += c.rank * (s == Slot::C ? in + 1 : out + in); break;
    }
  }
  return count;
}

}  // namespace glora

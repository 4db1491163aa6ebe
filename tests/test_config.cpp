// LayerConfig's text form against the reference's spelling, its parser's
// errors, and the trainable parameter count against the spec's rule written
// out here: LoRA_k in A or B: k(m + n); in C: k(n + 1); vector: m for A, B,
// D, E and n for C; constant: 1; none: 0.
#include <glora/config.hpp>

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace {

using glora::Choice;
using glora::LayerConfig;
using glora::Slot;

// The reference's per-slot choice lists for rank 4, spelled as it spells them.
const std::vector<std::string> choices_A_B = {"LoRA_4", "vector", "constant", "none"};
const std::vector<std::string> choices_C = {"LoRA_4", "vector", "none"};
const std::vector<std::string> choices_D_E = {"constant", "none", "vector"};

// The reference's 432 configurations, in the order of its nested loops, as
// the five choice texts of each.
std::vector<std::vector<std::string>> reference_texts() {
  std::vector<std::vector<std::string>> all;
  for (const auto& a : choices_A_B) {
    for (const auto& b : choices_A_B) {
      for (const auto& c : choices_C) {
        for (const auto& d : choices_D_E) {
          for (const auto& e : choices_D_E) all.push_back({a, b, c, d, e});
        }
      }
    }
  }
  return all;
}

std::string dict_text(const std::vector<std::string>& v, char quote) {
  const std::string q(1, quote);
  std::string text = "{";
  const char* keys[] = {"A", "B", "C", "D", "E"};
  for (std::size_t i = 0; i < 5; ++i) {
    if (i > 0) text += ", ";
    text += q + keys[i] + q + ": " + q + v[i] + q;
  }
  return text + "}";
}

// The choice a reference spelling stands for, decided here without the library's parser.
Choice choice_of_text(const std::string& text) {
  if (text == "none") return Choice::none();
  if (text == "vector") return Choice::vector();
  if (text == "constant") return Choice::scalar();
  return Choice::low_rank(std::stoi(text.substr(5)));
}

// The spec's count for one slot of an m x n layer, from the choice's spelling.
long spec_count(char slot, const std::string& choice, long m, long n) {
  if (choice == "none") return 0;
  if (choice == "constant") return 1;
  if (choice == "vector") return slot == 'C' ? n : m;
  const long k = std::stol(choice.substr(5));  // LoRA_k
  return slot == 'C' ? k * (n + 1) : k * (m + n);
}

}  // namespace

TEST_CASE("the 432 configurations print as the reference spells them and parse back", "[config]") {
  const auto all = reference_texts();
  REQUIRE(all.size() == 432);
  std::set<LayerConfig> distinct;
  for (const auto& v : all) {
    const std::string json = dict_text(v, '"');
    const LayerConfig expected{choice_of_text(v[0]), choice_of_text(v[1]), choice_of_text(v[2]),
                               choice_of_text(v[3]), choice_of_text(v[4])};
    const LayerConfig parsed = glora::parse_layer_config(json);
    CHECK(parsed == expected);
    CHECK(glora::to_string(parsed) == json);
    CHECK(glora::parse_layer_config(glora::to_string(expected)) == expected);
    // Python prints a dict with single quotes.
    CHECK(glora::parse_layer_config(dict_text(v, '\'')) == expected);
    CHECK_NOTHROW(glora::validate(parsed));
    distinct.insert(parsed);
  }
  CHECK(distinct.size() == 432);
}

TEST_CASE("the text form spelled out", "[config]") {
  const LayerConfig config{Choice::low_rank(4), Choice::vector(), Choice::none(), Choice::scalar(),
                           Choice::vector()};
  CHECK(glora::to_string(config) ==
        R"({"A": "LoRA_4", "B": "vector", "C": "none", "D": "constant", "E": "vector"})");
  CHECK(glora::to_short_string(config) == "A=LoRA_4 B=vector C=none D=constant E=vector");
  CHECK(glora::cpp_type(config) ==
        "glora::Linear<float, glora::LowRank<4>, glora::Vector, glora::None, glora::Scalar, "
        "glora::Vector>");
  CHECK(glora::cpp_type(config, "double") ==
        "glora::Linear<double, glora::LowRank<4>, glora::Vector, glora::None, glora::Scalar, "
        "glora::Vector>");
  CHECK(glora::kind_name(Choice::none()) == "None");
  CHECK(glora::kind_name(Choice::scalar()) == "Scalar");
  CHECK(glora::kind_name(Choice::vector()) == "Vector");
  CHECK(glora::kind_name(Choice::low_rank(16)) == "LowRank<16>");
  CHECK(glora::to_string(Choice::low_rank(123456)) == "LoRA_123456");
  CHECK(glora::config_of<glora::LowRank<4>, glora::Vector, glora::None, glora::Scalar,
                         glora::Vector>() == config);
}

TEST_CASE("blanks between tokens, any slot order and large ranks parse", "[config]") {
  const LayerConfig expected{Choice::low_rank(999999), Choice::vector(), Choice::scalar(),
                             Choice::none(), Choice::vector()};
  CHECK(glora::parse_layer_config(" \n{ 'E' :'vector',\t\"D\": \"none\", 'C': 'constant', \r\n"
                                  "\"B\":\"vector\",'A':'LoRA_999999' } \n") == expected);
}

TEST_CASE("malformed configuration text gives a message that says what and where", "[config]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"A": "lora", "B": "none", "C": "none", "D": "none", "E": "none"})",
       R"(glora: layer config: slot A: unknown choice "lora" (it takes LoRA_<r>, vector, )"
       R"(constant or none) at character 6 of {"A": "lora", "B": "none", "C": "none", "D": )"
       R"("none", "E": "none"})"},
      {R"({"A": "none", "B": "none", "C": "none", "D": "LoRA_4", "E": "none"})",
       R"(glora: layer config: slot D cannot be LoRA_4 (it takes vector, constant or none) at )"
       R"(character 45 of {"A": "none", "B": "none", "C": "none", "D": "LoRA_4", "E": "none"})"},
      {R"({"A": "LoRA_0", "B": "none", "C": "none", "D": "none", "E": "none"})",
       R"(glora: layer config: slot A: "LoRA_0" is not a LoRA rank (expected LoRA_<r> with r a )"
       R"(positive integer of at most six digits, no leading zero) at character 6 of {"A": )"
       R"("LoRA_0", "B": "none", "C": "none", "D": "none", "E": "none"})"},
      {R"({'A': 'LoRA_04', 'B': 'none', 'C': 'none', 'D': 'none', 'E': 'none'})",
       R"(glora: layer config: slot A: "LoRA_04" is not a LoRA rank (expected LoRA_<r> with r )"
       R"(a positive integer of at most six digits, no leading zero) at character 6 of {'A': )"
       R"('LoRA_04', 'B': 'none', 'C': 'none', 'D': 'none', 'E': 'none'})"},
      {R"({"A": "none", "B": "none", "C": "none", "D": "none"})",
       R"(glora: layer config: slot E is missing (a config names all of A, B, C, D and E) in )"
       R"({"A": "none", "B": "none", "C": "none", "D": "none"})"},
      {R"({"A": "none", "B": "none", "A": "vector", "D": "none", "E": "none"})",
       R"(glora: layer config: slot A appears twice at character 27 of {"A": "none", "B": )"
       R"("none", "A": "vector", "D": "none", "E": "none"})"},
      {R"({"A": "none", "F": "none"})",
       R"(glora: layer config: unknown slot "F" (the slots are A, B, C, D and E) at character )"
       R"(14 of {"A": "none", "F": "none"})"},
      {R"({"A": "none", "B": "none", "C": "none", "D": "none", "E": "none"} x)",
       R"(glora: layer config: unexpected text after the closing brace at character 66 of )"
       R"({"A": "none", "B": "none", "C": "none", "D": "none", "E": "none"} x)"},
      {R"({"A": "none", "B": "none)",
       R"(glora: layer config: the quote that opens a choice is never closed at character 19 )"
       R"(of {"A": "none", "B": "none)"},
      {R"({"A" "none"})",
       R"(glora: layer config: expected ':' after the slot name, found '"' at character 5 of )"
       R"({"A" "none"})"},
      {R"({"A: "none"})",
       R"(glora: layer config: unknown slot "A: " (the slots are A, B, C, D and E) at character )"
       R"(1 of {"A: "none"})"},
      {R"(["A", "none"])",
       R"(glora: layer config: expected '{' (a config is an object), found '[' at character 0 )"
       R"(of ["A", "none"])"},
      {"",
       "glora: layer config: expected '{' (a config is an object), found the end of the text "
       "at character 0 of an empty text"},
      {R"({"A": "none" "B": "none"})",
       R"(glora: layer config: expected ',' or '}', found '"' at character 13 of {"A": "none" )"
       R"("B": "none"})"},
      {R"({"A": "none",})",
       R"(glora: layer config: expected a slot name in quotes at character 13 of {"A": "none",})"},
      {R"({A: "none"})",
       R"(glora: layer config: expected a slot name in quotes at character 1 of {A: "none"})"},
      {R"({"A": none})",
       R"(glora: layer config: expected a choice in quotes at character 6 of {"A": none})"},
      {R"({"A": "vector"})",
       R"(glora: layer config: slot B is missing (a config names all of A, B, C, D and E) in )"
       R"({"A": "vector"})"},
      {R"({"a": "none"})",
       R"(glora: layer config: unknown slot "a" (the slots are A, B, C, D and E) at character )"
       R"(1 of {"a": "none"})"},
      {R"({"C": "constant", "A": "none", "B": "none", "D": "none", "E": "LoRA_2"})",
       R"(glora: layer config: slot E cannot be LoRA_2 (it takes vector, constant or none) at )"
       R"(character 62 of {"C": "constant", "A": "none", "B": "none", "D": "none", "E": )"
       R"("LoRA_2"})"},
      {R"({"A": "none", "B": "none", "C": "none", "D": "none", "E": "none", "F": "none", "G": "none"})",
       R"(glora: layer config: unknown slot "F" (the slots are A, B, C, D and E) at character )"
       R"(66 of {"A": "none", "B": "none", "C": "none", "D": "none", "E": "none", "F": "none", )"
       R"("...)"},
  };
  for (const auto& [text, message] : cases) {
    INFO(text);
    CHECK_THROWS_AS(glora::parse_layer_config(text), glora::config_error);
    CHECK_THROWS_WITH(glora::parse_layer_config(text), message);
  }
}

TEST_CASE("one choice's spelling, and what validate says about a bad choice", "[config]") {
  CHECK(glora::parse_choice(Slot::C, "LoRA_8") == Choice::low_rank(8));
  CHECK(glora::parse_choice(Slot::D, "constant") == Choice::scalar());
  CHECK(glora::parse_choice(Slot::C, "constant") == Choice::scalar());  // the extension
  CHECK_THROWS_WITH(glora::parse_choice(Slot::E, "LoRA_2"),
                    "glora: slot E cannot be LoRA_2 (it takes vector, constant or none)");
  CHECK_THROWS_WITH(glora::parse_choice(Slot::B, "Vector"),
                    "glora: slot B: unknown choice \"Vector\" (it takes LoRA_<r>, vector, "
                    "constant or none)");
  CHECK_THROWS_WITH(glora::parse_choice(Slot::C, "LoRA_1234567"),
                    "glora: slot C: \"LoRA_1234567\" is not a LoRA rank (expected LoRA_<r> with r "
                    "a positive integer of at most six digits, no leading zero)");
  CHECK_THROWS_WITH(glora::parse_choice(Slot::A, "LoRA_"),
                    "glora: slot A: \"LoRA_\" is not a LoRA rank (expected LoRA_<r> with r a "
                    "positive integer of at most six digits, no leading zero)");
  CHECK_THROWS_WITH(glora::parse_choice(Slot::A, "LoRA_-3"),
                    "glora: slot A: \"LoRA_-3\" is not a LoRA rank (expected LoRA_<r> with r a "
                    "positive integer of at most six digits, no leading zero)");

  LayerConfig config;
  CHECK_NOTHROW(glora::validate(config));
  config.D = Choice::low_rank(2);
  CHECK_THROWS_AS(glora::validate(config), glora::config_error);
  CHECK_THROWS_WITH(glora::validate(config),
                    "glora: slot D cannot be LoRA_2 (it takes vector, constant or none)");
  config.D = Choice::none();
  config.B = Choice::low_rank(0);
  CHECK_THROWS_WITH(glora::validate(config), "glora: slot B: the rank of LoRA_0 must be positive");
  config.B = Choice{glora::Kind::vector, 3};
  CHECK_THROWS_WITH(glora::validate(config),
                    "glora: slot B: vector has the rank 3 (only LoRA_<r> has a rank)");
  config.B = Choice{static_cast<glora::Kind>(7), 0};
  CHECK_THROWS_WITH(glora::validate(config),
                    "glora: slot B: the kind 7 is none of none, scalar, vector and low_rank");
}

TEST_CASE("parameter_count follows the spec's rule", "[config]") {
  const std::vector<std::pair<long, long>> shapes = {{7, 5}, {1, 1}, {768, 3072}, {3, 11}};
  for (const auto& [m, n] : shapes) {
    for (const auto& v : reference_texts()) {
      const LayerConfig config = glora::parse_layer_config(dict_text(v, '"'));
      const long expected = spec_count('A', v[0], m, n) + spec_count('B', v[1], m, n) +
                            spec_count('C', v[2], m, n) + spec_count('D', v[3], m, n) +
                            spec_count('E', v[4], m, n);
      CHECK(glora::parameter_count(config, m, n) == expected);
    }
  }
  // One worked by hand on a 7 x 5 layer: A LoRA_4 = 4 (7 + 5), B vector = 7,
  // C LoRA_2 = 2 (5 + 1), D constant = 1, E vector = 7.
  const LayerConfig config{Choice::low_rank(4), Choice::vector(), Choice::low_rank(2),
                           Choice::scalar(), Choice::vector()};
  CHECK(glora::parameter_count(config, 7, 5) == 48 + 7 + 12 + 1 + 7);
}

#pragma once
// SearchSpace: the configurations one layer may take, as a list of choices per
// slot. The reference's space for a LoRA rank r is
//
//   A, B in {LoRA_r, vector, constant, none}
//   C    in {LoRA_r, vector, none}
//   D, E in {constant, none, vector}
//
// 4 * 4 * 3 * 3 * 3 = 432 configurations; a supernet of several ranks offers
// each of them where the reference offers its one LoRA_r.

#include <glora/config.hpp>
#include <glora/kinds.hpp>
#include <glora/search/random.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace glora {

/// Thrown for a search that cannot run as asked: an empty space, a setting out
/// of range, a parameter budget that no candidate meets. The message names the
/// entry point, the setting and the values.
class search_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// The configurations one layer may take: for each slot a list of distinct
/// allowed choices, in a fixed order. Its configurations are every combination,
/// enumerated with A varying slowest and E fastest, as the reference's nested
/// loops list them.
class SearchSpace {
 public:
  /// An empty space (no choices at all): size() is 0, and asking it for a
  /// configuration throws search_error. Give a layer a real space before use.
  SearchSpace() = default;

  /// A space of the given choices per slot, in that order. Throws config_error
  /// when a list is empty, holds a choice its slot does not allow, or holds a
  /// choice twice.
  SearchSpace(std::vector<Choice> A, std::vector<Choice> B, std::vector<Choice> C,
              std::vector<Choice> D, std::vector<Choice> E)
      : choices_{std::move(A), std::move(B), std::move(C), std::move(D), std::move(E)} {
    for (const Slot s : all_slots) {
      const std::vector<Choice>& list = choices(s);
      const std::string where = std::string("glora::SearchSpace: slot ") + slot_letter(s);
      if (list.empty()) throw config_error(where + " has no choices (it needs at least one)");
      for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string problem = detail::choice_problem(s, list[i]);
        if (!problem.empty()) throw config_error("glora::SearchSpace: " + problem);
        for (std::size_t j = 0; j < i; ++j) {
          if (list[j] == list[i]) {
            throw config_error(where + " lists " + to_string(list[i]) + " twice (choices " +
                               std::to_string(j) + " and " + std::to_string(i) + ")");
          }
        }
      }
    }
  }

  /// The reference's space for LoRA rank `rank`: 432 configurations. Throws
  /// config_error unless the rank is positive.
  static SearchSpace reference(int rank) { return reference(std::vector<int>{rank}); }

  /// The reference's space with several LoRA ranks at once, in the order
  /// given: reference({8, 4}) offers LoRA_8 then LoRA_4 wherever the reference
  /// offers LoRA_r, so A and B have 2 + 3 choices and C has 2 + 2. Throws
  /// config_error when the list is empty or a rank is not positive or repeated.
  static SearchSpace reference(std::initializer_list<int> ranks) {
    return reference(std::vector<int>(ranks));
  }

  /// As above, with the ranks in a vector.
  static SearchSpace reference(const std::vector<int>& ranks) {
    if (ranks.empty()) {
      throw config_error(
          "glora::SearchSpace::reference: no LoRA rank given (it needs at least one)");
    }
    std::vector<Choice> low_ranks;
    for (const int r : ranks) {
      if (r <= 0) {
        throw config_error("glora::SearchSpace::reference: the LoRA rank " + std::to_string(r) +
                           " must be positive");
      }
      if (std::find(low_ranks.begin(), low_ranks.end(), Choice::low_rank(r)) != low_ranks.end()) {
        throw config_error("glora::SearchSpace::reference: the LoRA rank " + std::to_string(r) +
                           " is given twice");
      }
      low_ranks.push_back(Choice::low_rank(r));
    }
    std::vector<Choice> a_b = low_ranks;
    a_b.insert(a_b.end(), {Choice::vector(), Choice::scalar(), Choice::none()});
    std::vector<Choice> c = low_ranks;
    c.insert(c.end(), {Choice::vector(), Choice::none()});
    const std::vector<Choice> d_e = {Choice::scalar(), Choice::none(), Choice::vector()};
    return SearchSpace(a_b, a_b, c, d_e, d_e);
  }

  /// The choices of slot `s`, in order (empty only for an empty space).
  const std::vector<Choice>& choices(Slot s) const { return choices_[static_cast<std::size_t>(s)]; }

  /// Whether the space has no configuration (default-constructed).
  bool empty() const { return choices_[0].empty(); }

  /// The number of configurations: the product of the slots' list lengths.
  std::size_t size() const {
    std::size_t n = 1;
    for (const auto& list : choices_) n *= list.size();
    return n;
  }

  /// Configuration number `index` of the enumeration (A slowest, E fastest).
  /// Throws search_error unless index < size().
  LayerConfig at(std::size_t index) const {
    if (index >= size()) {
      throw search_error("glora::SearchSpace::at: index " + std::to_string(index) +
                         " is out of range (the space has " + std::to_string(size()) +
                         " configurations)");
    }
    LayerConfig config;
    for (std::size_t k = choices_.size(); k-- > 0;) {
      const std::vector<Choice>& list = choices_[k];
      config[all_slots[k]] = list[index % list.size()];
      index /= list.size();
    }
    return config;
  }

  /// Every configuration, in enumeration order: size() of them, all distinct.
  std::vector<LayerConfig> enumerate() const {
    std::vector<LayerConfig> all;
    all.reserve(size());
    for (std::size_t i = 0; i < size(); ++i) all.push_back(at(i));
    return all;
  }

  /// Whether every slot of `config` is one of that slot's choices.
  bool contains(const LayerConfig& config) const {
    for (const Slot s : all_slots) {
      const std::vector<Choice>& list = choices(s);
      if (std::find(list.begin(), list.end(), config[s]) == list.end()) return false;
    }
    return true;
  }

  /// The largest choice of each slot: LoRA of the highest rank, else vector,
  /// else constant, else none. The storage of each kind holds every smaller
  /// one (vector is column 0 of a low-rank down tensor, constant its element
  /// [0, 0]), so DynamicAdapter(capacity(), out, in) holds every configuration
  /// of the space. Throws search_error for an empty space.
  LayerConfig capacity() const {
    check_not_empty("capacity");
    LayerConfig config;
    for (const Slot s : all_slots) {
      // Choice's order is none < constant < vector < LoRA, ranks ascending.
      config[s] = *std::max_element(choices(s).begin(), choices(s).end());
    }
    return config;
  }

  /// A configuration drawn uniformly from the space (one draw of an index, as
  /// the reference's supernet draws from its list of configurations). The
  /// same generator state gives the same configuration on every platform.
  /// Throws search_error for an empty space.
  LayerConfig sample(std::mt19937_64& rng) const {
    check_not_empty("sample");
    return at(static_cast<std::size_t>(detail::uniform_index(rng, size())));
  }

  /// A choice for slot `s` drawn uniformly from its list. Throws search_error
  /// for an empty space.
  Choice sample(Slot s, std::mt19937_64& rng) const {
    check_not_empty("sample");
    const std::vector<Choice>& list = choices(s);
    return list[static_cast<std::size_t>(detail::uniform_index(rng, list.size()))];
  }

  /// The fewest trainable parameters of a configuration of the space on an
  /// out x in layer. Throws search_error for an empty space.
  Eigen::Index min_parameters(Eigen::Index out, Eigen::Index in) const {
    return extreme_parameters("min_parameters", out, in, false);
  }

  /// The most trainable parameters of a configuration of the space on an
  /// out x in layer. Throws search_error for an empty space.
  Eigen::Index max_parameters(Eigen::Index out, Eigen::Index in) const {
    return extreme_parameters("max_parameters", out, in, true);
  }

  friend bool operator==(const SearchSpace& x, const SearchSpace& y) {
    return x.choices_ == y.choices_;
  }
  friend bool operator!=(const SearchSpace& x, const SearchSpace& y) { return !(x == y); }

 private:
  void check_not_empty(const char* what) const {
    if (empty()) {
      throw search_error(std::string("glora::SearchSpace::") + what +
                         ": the space is empty (a default-constructed SearchSpace has no choices)");
    }
  }

  // The slots count independently, so the extreme of the sum is the sum of each slot's extreme.
  Eigen::Index extreme_parameters(const char* what, Eigen::Index out, Eigen::Index in,
                                  bool largest) const {
    check_not_empty(what);
    Eigen::Index total = 0;
    for (const Slot s : all_slots) {
      Eigen::Index best = detail::slot_parameter_count(s, choices(s).front(), out, in);
      for (const Choice c : choices(s)) {
        const Eigen::Index count = detail::slot_parameter_count(s, c, out, in);
        best = largest ? std::max(best, count) : std::min(best, count);
      }
      total += best;
    }
    return total;
  }

  std::array<std::vector<Choice>, 5> choices_;
};

}  // namespace glora

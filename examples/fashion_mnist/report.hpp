#pragma once
// Collecting the accuracies of many runs and reporting them as a table and a CSV file.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <glora/config.hpp>

#include <Eigen/Core>

namespace fmnist {

/// One fine-tuning run.
struct RunResult {
  std::string method;
  Eigen::Index trainable_parameters;
  int shots;  // images per class; 0 for the whole training set
  double accuracy;
};

/// What one search found, and what its choice reached on the test set.
struct SearchRecord {
  std::string budget_name;  // "lora" or "half"
  Eigen::Index budget = 0;  // at most this many trainable parameters (the head not counted)
  int shots = 0;            // images per class; 0 for the whole training set
  int seed = 0;
  std::vector<glora::LayerConfig> configs;  // one per hidden layer
  Eigen::Index parameters = 0;              // the choice's trainable parameters
  double validation_accuracy = 0;           // its fitness
  double inherited_accuracy = 0;            // with the supernet's weights
  double retrained_accuracy = 0;            // trained again from a fresh initialisation
};

/// Mean and sample standard deviation of the runs of one method and setting.
struct Summary {
  std::string method;
  Eigen::Index trainable_parameters = 0;
  int shots = 0;
  int runs = 0;
  double mean = 0;
  double std = 0;
};

inline Summary summarize(const std::vector<RunResult>& results, const std::string& method,
                         int shots) {
  Summary s;
  s.method = method;
  s.shots = shots;
  std::vector<double> values;
  double trainable = 0;
  for (const RunResult& r : results) {
    if (r.method != method || r.shots != shots) continue;
    trainable += static_cast<double>(r.trainable_parameters);
    values.push_back(r.accuracy);
  }
  s.runs = static_cast<int>(values.size());
  if (values.empty()) return s;
  // The searched configurations differ between runs: their mean.
  s.trainable_parameters =
      static_cast<Eigen::Index>(std::lround(trainable / static_cast<double>(values.size())));
  for (double v : values) s.mean += v;
  s.mean /= static_cast<double>(values.size());
  if (values.size() > 1) {
    double squares = 0;
    for (double v : values) squares += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(squares / static_cast<double>(values.size() - 1));
  }
  return s;
}

inline std::string setting_name(int shots) {
  return shots == 0 ? std::string("all") : std::to_string(shots) + "-shot";
}

/// Prints one row per method, one column per setting: "mean ± std". The
/// trainable parameters are those of the first setting (mean over its runs).
inline void print_table(const std::vector<RunResult>& results,
                        const std::vector<std::string>& methods, const std::vector<int>& settings) {
  std::printf("%-21s %10s", "method", "trainable");
  for (int shots : settings) std::printf(" %15s", setting_name(shots).c_str());
  std::printf("\n");
  for (const std::string& method : methods) {
    std::printf(
        "%-21s %10ld", method.c_str(),
        static_cast<long>(summarize(results, method, settings.front()).trainable_parameters));
    for (int shots : settings) {
      const Summary s = summarize(results, method, shots);
      std::printf(" %7.2f ± %5.2f", s.mean, s.std);
    }
    std::printf("\n");
  }
}

/// Writes one line per method and setting. shots_per_class is the number of
/// training images per class actually used (for "all": the set's size / classes).
inline bool write_csv(const std::string& path, const std::vector<RunResult>& results,
                      const std::vector<std::string>& methods, const std::vector<int>& settings,
                      int all_per_class) {
  std::ofstream out(path);
  out << "method,trainable_parameters,setting,shots_per_class,runs,mean_accuracy,std_accuracy\n";
  for (const std::string& method : methods) {
    for (int shots : settings) {
      const Summary s = summarize(results, method, shots);
      char line[256];
      std::snprintf(line, sizeof line, "%s,%ld,%s,%d,%d,%.2f,%.2f\n", method.c_str(),
                    static_cast<long>(s.trainable_parameters), setting_name(shots).c_str(),
                    shots == 0 ? all_per_class : shots, s.runs, s.mean, s.std);
      out << line;
    }
  }
  return static_cast<bool>(out);
}

/// Writes one line per search: the setting, the seed, the budget, what the
/// search chose for each layer and what it reached.
inline bool write_search_csv(const std::string& path, const std::vector<SearchRecord>& searches) {
  std::ofstream out(path);
  out << "setting,seed,budget,budget_parameters,parameters,validation_accuracy,"
         "inherited_accuracy,retrained_accuracy";
  const std::size_t layers = searches.empty() ? 0 : searches.front().configs.size();
  for (std::size_t l = 0; l < layers; ++l) out << ",layer_" << l + 1;
  out << "\n";
  for (const SearchRecord& s : searches) {
    char line[256];
    std::snprintf(line, sizeof line, "%s,%d,%s,%ld,%ld,%.2f,%.2f,%.2f",
                  setting_name(s.shots).c_str(), s.seed, s.budget_name.c_str(),
                  static_cast<long>(s.budget), static_cast<long>(s.parameters),
                  s.validation_accuracy, s.inherited_accuracy, s.retrained_accuracy);
    out << line;
    for (const glora::LayerConfig& c : s.configs) out << "," << glora::to_short_string(c);
    out << "\n";
  }
  return static_cast<bool>(out);
}

}  // namespace fmnist

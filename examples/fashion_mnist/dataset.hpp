#pragma once
// Fashion-MNIST in memory, the domain shift, few-shot subsets and minibatches.

#include "idx.hpp"
#include "random.hpp"

#include <glora/glora.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace fmnist {

using Matrix = glora::MatrixX<float>;

constexpr Eigen::Index kSide = 28;               // images are kSide x kSide
constexpr Eigen::Index kPixels = kSide * kSide;  // 784 inputs
constexpr int kClasses = 10;

/// Images stay bytes (47 MB for the training set rather than 188 MB as
/// floats); minibatches are converted when they are drawn.
struct Dataset {
  PixelMatrix pixels;       // kPixels x N, one image per column
  std::vector<int> labels;  // N labels in [0, kClasses)

  Eigen::Index size() const { return pixels.cols(); }
};

/// The four files of the dataset; `split` is "train" or "t10k".
inline std::string images_file(const std::string& dir, const std::string& split) {
  return dir + "/" + split + "-images-idx3-ubyte.gz";
}
inline std::string labels_file(const std::string& dir, const std::string& split) {
  return dir + "/" + split + "-labels-idx1-ubyte.gz";
}

/// Loads the first max_count images of a split (all of them if negative).
inline Dataset load_split(const std::string& dir, const std::string& split,
                          Eigen::Index max_count) {
  Dataset d;
  d.pixels = read_idx_images(images_file(dir, split), max_count, kSide, kSide);
  d.labels = read_idx_labels(labels_file(dir, split), max_count, kClasses);
  if (static_cast<Eigen::Index>(d.labels.size()) != d.size()) {
    throw IdxError(labels_file(dir, split) + ": holds " + std::to_string(d.labels.size()) +
                   " labels for " + std::to_string(d.size()) + " images");
  }
  return d;
}

/// The target domain: every image rotated by 90 degrees clockwise and
/// inverted (dark garments on a white background), as a scanner or a camera
/// held sideways might deliver them. The classes stay the same.
inline Dataset shifted(const Dataset& source) {
  Dataset target{PixelMatrix(kPixels, source.size()), source.labels};
  for (Eigen::Index n = 0; n < source.size(); ++n) {
    for (Eigen::Index r = 0; r < kSide; ++r) {
      for (Eigen::Index c = 0; c < kSide; ++c) {
        // Clockwise: output pixel (r, c) comes from input pixel (kSide-1-c, r).
        const std::uint8_t v = source.pixels((kSide - 1 - c) * kSide + r, n);
        target.pixels(r * kSide + c, n) = static_cast<std::uint8_t>(255 - v);
      }
    }
  }
  return target;
}

/// The images `indices` of a dataset, in that order.
inline Dataset subset_of(const Dataset& source, const std::vector<Eigen::Index>& indices) {
  Dataset subset{PixelMatrix(kPixels, static_cast<Eigen::Index>(indices.size())), {}};
  for (Eigen::Index i : indices) {
    subset.pixels.col(static_cast<Eigen::Index>(subset.labels.size())) = source.pixels.col(i);
    subset.labels.push_back(source.labels[static_cast<std::size_t>(i)]);
  }
  return subset;
}

/// The indices of a dataset's images in a random order.
inline std::vector<Eigen::Index> shuffled_indices(const Dataset& d, Rng& rng) {
  std::vector<Eigen::Index> order(static_cast<std::size_t>(d.size()));
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<Eigen::Index>(i);
  rng.shuffle(order);
  return order;
}

/// The images of classes [first, first + count), relabelled 0 .. count - 1:
/// a task of its own, with classes of its own.
inline Dataset classes(const Dataset& source, int first, int count) {
  std::vector<Eigen::Index> kept;
  for (Eigen::Index n = 0; n < source.size(); ++n) {
    const int label = source.labels[static_cast<std::size_t>(n)];
    if (label >= first && label < first + count) kept.push_back(n);
  }
  Dataset subset = subset_of(source, kept);
  for (int& label : subset.labels) label -= first;
  return subset;
}

/// A training set split in two: `per_class` random images of every class for
/// validation, the rest for training (disjoint; the test set is not touched).
struct Split {
  Dataset train;
  Dataset validation;
};
inline Split split_validation(const Dataset& source, int classes, int per_class, Rng& rng) {
  std::vector<int> taken(static_cast<std::size_t>(classes), 0);
  std::vector<Eigen::Index> train, validation;
  for (Eigen::Index i : shuffled_indices(source, rng)) {
    int& count = taken[static_cast<std::size_t>(source.labels[static_cast<std::size_t>(i)])];
    if (count < per_class) {
      ++count;
      validation.push_back(i);
    } else {
      train.push_back(i);
    }
  }
  std::sort(train.begin(), train.end());  // the training images keep the order of the file
  return {subset_of(source, train), subset_of(source, validation)};
}

/// A few-shot training set: `shots` images of every one of `classes`
/// classes, drawn at random without replacement.
inline Dataset few_shot(const Dataset& source, int classes, int shots, Rng& rng) {
  std::vector<int> taken(static_cast<std::size_t>(classes), 0);
  std::vector<Eigen::Index> chosen;
  const auto wanted = static_cast<std::size_t>(shots) * static_cast<std::size_t>(classes);
  for (Eigen::Index i : shuffled_indices(source, rng)) {
    int& count = taken[static_cast<std::size_t>(source.labels[static_cast<std::size_t>(i)])];
    if (count == shots) continue;
    ++count;
    chosen.push_back(i);
    if (chosen.size() == wanted) break;
  }
  if (chosen.size() != wanted) {
    throw std::runtime_error("few_shot: the dataset has fewer than " + std::to_string(shots) +
                             " images of some class");
  }
  return subset_of(source, chosen);
}

/// The images `indices[begin, end)` as network inputs: kPixels x count,
/// intensities scaled to [0, 1].
inline Matrix inputs(const Dataset& d, const std::vector<Eigen::Index>& indices, std::size_t begin,
                     std::size_t end) {
  Matrix X(kPixels, static_cast<Eigen::Index>(end - begin));
  for (std::size_t j = begin; j < end; ++j) {
    X.col(static_cast<Eigen::Index>(j - begin)) =
        d.pixels.col(indices[j]).cast<float>() * (1.0f / 255.0f);
  }
  return X;
}

/// The labels of the same images.
inline std::vector<int> labels(const Dataset& d, const std::vector<Eigen::Index>& indices,
                               std::size_t begin, std::size_t end) {
  std::vector<int> y;
  y.reserve(end - begin);
  for (std::size_t j = begin; j < end; ++j)
    y.push_back(d.labels[static_cast<std::size_t>(indices[j])]);
  return y;
}

/// All images of a dataset as network inputs.
inline Matrix all_inputs(const Dataset& d) { return d.pixels.cast<float>() * (1.0f / 255.0f); }

}  // namespace fmnist

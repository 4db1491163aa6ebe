// A raw buffer does not say whether it is [out, in] row-major or column-major:
// the view must be told. This program must not compile.
// expect-error: state the storage order of a raw pointer
#include <glora/glora.hpp>

#include <vector>

int main() {
  std::vector<float> W0(6), b0(3);
  glora::LinearView<float, glora::Vector> view(W0.data(), 3, 2, b0.data());
  return static_cast<int>(view.out_features());
}

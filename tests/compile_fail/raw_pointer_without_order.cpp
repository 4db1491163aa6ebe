// A raw buffer does not say whether it is [out, in] row-major or column-major:
// the view must be told. This program must not compile.
// expect-error: glora::LinearView: state the storage order of a raw pointer: LinearView(glora::row_major, W0, out, in, b0) for PyTorch's [out, in] layout, or LinearView(glora::column_major, W0, out, in, b0)
#include <glora/glora.hpp>

#include <vector>

int main() {
  std::vector<float> W0(6), b0(3);
  glora::LinearView<float, glora::Vector> view(W0.data(), 3, 2, b0.data());
  return static_cast<int>(view.out_features());
}

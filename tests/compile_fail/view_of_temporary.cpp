// A view over a temporary would dangle: this program must not compile.
// expect-error: a layer view cannot view a temporary matrix
#include <glora/glora.hpp>

int main() {
  glora::LinearView<float, glora::Vector> view(glora::MatrixX<float>(3, 2));
  return static_cast<int>(view.out_features());
}

// A view over a temporary would dangle: this program must not compile.
// expect-error: glora: a layer view cannot view a temporary matrix (it is gone after the call); view the model's own matrix, or use glora::Linear to own the weights
#include <glora/glora.hpp>

int main() {
  glora::LinearView<float, glora::Vector> view(glora::MatrixX<float>(3, 2));
  return static_cast<int>(view.out_features());
}

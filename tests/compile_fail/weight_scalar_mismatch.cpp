// Double weights for a float view: this program must not compile.
// expect-error: glora: W0 holds another scalar type than the layer
#include <glora/glora.hpp>

int main() {
  glora::MatrixX<double> W0 = glora::MatrixX<double>::Zero(3, 2);
  glora::LinearView<float, glora::Vector> view(W0);
  return static_cast<int>(view.out_features());
}

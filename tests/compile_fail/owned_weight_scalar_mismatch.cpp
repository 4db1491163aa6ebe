// Double weights for a float layer: this program must not compile (convert
// explicitly, W0.cast<float>(), so that the copy is visible).
// expect-error: glora: W0 holds another scalar type than the layer
#include <glora/glora.hpp>

int main() {
  const glora::Linear<float, glora::Vector> layer(glora::MatrixX<double>::Zero(3, 2));
  return static_cast<int>(layer.out_features());
}

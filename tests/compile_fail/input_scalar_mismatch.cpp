// A double batch through a float layer: this program must not compile.
// expect-error: an input (X, dY) holds another scalar type than the layer
#include <glora/glora.hpp>

int main() {
  const glora::Linear<float, glora::Vector> layer(glora::MatrixX<float>::Zero(3, 2),
                                                  glora::VectorX<float>::Zero(3));
  const glora::MatrixX<double> X = glora::MatrixX<double>::Zero(2, 4);
  const glora::MatrixX<float> Y = layer.forward(X);
  return static_cast<int>(Y(0, 0));
}

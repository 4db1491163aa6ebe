// A double Y for a float layer: this program must not compile.
// expect-error: glora: an output (Y, dX) must hold the layer's scalar type
#include <glora/glora.hpp>

int main() {
  const glora::Linear<float, glora::Vector> layer(glora::MatrixX<float>::Zero(3, 2),
                                                  glora::VectorX<float>::Zero(3));
  const glora::MatrixX<float> X = glora::MatrixX<float>::Zero(2, 4);
  glora::MatrixX<double> Y(3, 4);
  layer.forward(X, Y);
  return static_cast<int>(Y(0, 0));
}

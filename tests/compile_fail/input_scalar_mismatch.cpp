// A double batch through a float layer: this program must not compile.
// expect-error: glora: an input (X, dY) holds another scalar type than the layer: pass a matrix of the layer's scalar type (convert once, e.g. X.cast<float>(), and keep the result)
#include <glora/glora.hpp>

int main() {
  const glora::Linear<float, glora::Vector> layer(glora::MatrixX<float>::Zero(3, 2),
                                                  glora::VectorX<float>::Zero(3));
  const glora::MatrixX<double> X = glora::MatrixX<double>::Zero(2, 4);
  const glora::MatrixX<float> Y = layer.forward(X);
  return static_cast<int>(Y(0, 0));
}

// A row-major Y cannot take one sample per column: this program must not compile.
// expect-error: glora: an output (Y, dX) must be column-major, one sample per column: for a row-major N x features result pass result.transpose()
#include <glora/glora.hpp>

int main() {
  const glora::Linear<float, glora::Vector> layer(glora::MatrixX<float>::Zero(3, 2),
                                                  glora::VectorX<float>::Zero(3));
  const glora::MatrixX<float> X = glora::MatrixX<float>::Zero(2, 4);
  glora::RowMajorMatrixX<float> Y(3, 4);
  layer.forward(X, Y);
  return static_cast<int>(Y(0, 0));
}

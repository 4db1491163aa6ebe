// A row-major X would be copied behind the caller's back: this program must not compile.
// expect-error: glora: an input (X, dY) must be column-major, one sample per column: for a row-major N x features batch (PyTorch's layout) pass batch.transpose(); copy anything else into a column-major matrix first
#include <glora/glora.hpp>

int main() {
  const glora::Linear<float, glora::Vector> layer(glora::MatrixX<float>::Zero(3, 2),
                                                  glora::VectorX<float>::Zero(3));
  const glora::RowMajorMatrixX<float> X = glora::RowMajorMatrixX<float>::Zero(2, 4);
  const glora::MatrixX<float> Y = layer.forward(X);
  return static_cast<int>(Y(0, 0));
}

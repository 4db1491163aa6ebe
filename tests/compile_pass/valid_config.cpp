// Control for the compile_fail cases: a valid configuration built by the same machinery must
// compile, so a broken include path or target cannot make those cases pass trivially.
#include <glora/glora.hpp>

int main() {
  glora::Linear<float, glora::LowRank<2>, glora::Vector, glora::LowRank<1>, glora::Scalar,
                glora::Vector>
      layer(glora::MatrixX<float>::Zero(3, 2), glora::VectorX<float>::Zero(3));
  const glora::MatrixX<float> Y = layer.forward(glora::MatrixX<float>::Zero(2, 4));
  return Y.rows() == 3 && Y.cols() == 4 ? 0 : 1;
}

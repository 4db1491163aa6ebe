// LowRank is not a kind that slot D accepts: this program must not compile.
// expect-error: glora: slot D takes Vector, Scalar or None (LowRank is not allowed for D)
#include <glora/glora.hpp>

int main() {
  glora::Linear<float, glora::None, glora::None, glora::None, glora::LowRank<2>> layer(
      glora::MatrixX<float>::Zero(3, 2), glora::VectorX<float>::Zero(3));
  return static_cast<int>(layer.out_features());
}

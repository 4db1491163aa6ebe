// A low-rank support tensor of rank 0 is meaningless: this program must not compile.
// expect-error: glora::LowRank<R>: the rank R must be positive
#include <glora/glora.hpp>

int main() {
  glora::Linear<float, glora::LowRank<0>> layer(glora::MatrixX<float>::Zero(3, 2),
                                                glora::VectorX<float>::Zero(3));
  return static_cast<int>(layer.out_features());
}

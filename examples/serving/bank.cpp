#include <glora/serving.hpp>

#include <cstdio>
#include <string>
#include <vector>

int main() {
  using Lora = glora::Adapter<float, glora::None, glora::LowRank<8>>;      // B = Bd · Bu, rank 8
  const glora::MatrixX<float> W0 = glora::MatrixX<float>::Random(64, 32);  // out x in
  const glora::VectorX<float> b0 = glora::VectorX<float>::Random(64);

  // One frozen base, any number of adapters under keys; "" is the base alone.
  glora::AdapterBank<Lora> bank(W0, b0);
  for (const char* tenant : {"alice", "bob", "carol"}) {
    Lora adapter(64, 32);
    adapter.B.down.setRandom();  // 64 x 8
    adapter.B.up.setRandom();    // 8 x 32
    bank.add(tenant, adapter);
  }

  // A batch whose columns each name their adapter: one pass over W0 for all.
  const glora::MatrixX<float> X = glora::MatrixX<float>::Random(32, 4);
  const std::vector<std::string> keys = {"bob", "alice", "", "bob"};
  const glora::MatrixX<float> Y = bank.forward(X, keys);  // 64 x 4

  // Column 0 is what bob's merged layer gives; column 2 the frozen base's.
  const float bob = (bank.merge("bob").forward(X.col(0)) - Y.col(0)).cwiseAbs().maxCoeff();
  const float base = ((W0 * X.col(2) + b0) - Y.col(2)).cwiseAbs().maxCoeff();

  Lora retrained(64, 32);  // replace or remove at any time, also while serving
  retrained.B.down.setOnes();
  bank.replace("alice", retrained);
  bank.remove("carol");

  const glora::BankMemory memory = bank.memory();
  std::printf("max |bob - merged| = %g, |base - W0 x - b0| = %g; %zu adapters, %zu + %zu bytes\n",
              bob, base, memory.count, memory.base, memory.adapters);
  return bob < 1e-4f && base < 1e-4f ? 0 : 1;
}

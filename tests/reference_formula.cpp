// The parts of the plain formula that do not depend on a type: compiled once
// for every test, and optimised in every build (tests/CMakeLists.txt), since
// the long-double products below are most of the larger tests' time.
#include "reference_formula.hpp"

#include <stdexcept>
#include <string>

namespace glora_test {

std::string config_name(const char* a, const char* b, const char* c, const char* d, const char* e) {
  return std::string("A=") + a + " B=" + b + " C=" + c + " D=" + d + " E=" + e;
}

Real slot_entry(const SlotTensors& s, Index i, Index j) {
  switch (s.choice.kind) {
    case glora::Kind::scalar: return s.down(0, 0);  // X[i][j] = s
    case glora::Kind::vector: return s.down(i, 0);  // X[i][j] = v[i]
    case glora::Kind::low_rank: {
      Real v = 0;
      for (Index k = 0; k < s.choice.rank; ++k) v += s.down(i, k) * s.up(k, j);  // down . up
      return v;
    }
    case glora::Kind::none: return 0;
  }
  return 0;
}

RealMatrix full_weight_support(const SlotTensors& s, Index m, Index n) {
  RealMatrix full(m, n);
  for (Index i = 0; i < m; ++i) {
    for (Index j = 0; j < n; ++j) full(i, j) = slot_entry(s, i, j);
  }
  return full;
}

RealVector full_vector_support(const SlotTensors& s, Index size) {
  RealVector full(size);
  for (Index i = 0; i < size; ++i) full(i) = slot_entry(s, i, 0);
  return full;
}

RealMatrix Reference::forward(const RealMatrix& X) const {
  // Four outputs at a time, their sums held in registers while W's columns go
  // by: the same additions in the same order as one output at a time, with a
  // fraction of the loads and stores (long double arithmetic does not
  // vectorise, and under the sanitizers every memory access is checked).
  const Index m = W.rows(), n = W.cols();
  if (X.rows() != n) {
    throw std::logic_error("Reference::forward: X has " + std::to_string(X.rows()) +
                           " rows, W has " + std::to_string(n) + " columns");
  }
  RealMatrix Y = b.replicate(1, X.cols());
  for (Index k = 0; k < X.cols(); ++k) {
    Real* y = Y.col(k).data();
    const Real* x = X.col(k).data();
    Index i = 0;
    for (; i + 4 <= m; i += 4) {
      Real s0 = y[i], s1 = y[i + 1], s2 = y[i + 2], s3 = y[i + 3];
      const Real* column = W.data();
      for (Index j = 0; j < n; ++j, column += m) {
        s0 += column[i] * x[j];
        s1 += column[i + 1] * x[j];
        s2 += column[i + 2] * x[j];
        s3 += column[i + 3] * x[j];
      }
      y[i] = s0;
      y[i + 1] = s1;
      y[i + 2] = s2;
      y[i + 3] = s3;
    }
    for (; i < m; ++i) {
      Real s = y[i];
      const Real* column = W.data();
      for (Index j = 0; j < n; ++j, column += m) s += column[i] * x[j];
      y[i] = s;
    }
  }
  return Y;
}

Supports expand(const SlotTensors& A, const SlotTensors& B, const SlotTensors& C,
                const SlotTensors& D, const SlotTensors& E, Index m, Index n) {
  return {full_weight_support(A, m, n), full_weight_support(B, m, n), full_vector_support(C, n),
          full_vector_support(D, m), full_vector_support(E, m)};
}

Reference combine(const RealMatrix& W0, const RealVector* b0, const Supports& s) {
  const Index m = W0.rows();
  const Index n = W0.cols();
  Reference r;
  r.W.resize(m, n);
  for (Index i = 0; i < m; ++i) {
    for (Index j = 0; j < n; ++j) {
      r.W(i, j) = W0(i, j) + W0(i, j) * s.A(i, j) + s.B(i, j);
    }
  }
  r.b.resize(m);
  for (Index i = 0; i < m; ++i) {
    Real W0c = 0;
    for (Index j = 0; j < n; ++j) {
      W0c += W0(i, j) * s.c(j);
    }
    if (b0 != nullptr) {
      r.b(i) = (*b0)(i) + (*b0)(i)*s.D(i) + s.E(i) + W0c;
    } else {
      r.b(i) = s.E(i) + W0c;  // no bias: D has no effect
    }
  }
  return r;
}

std::string real_mismatch(const RealMatrix& actual, const RealMatrix& expected,
                          const RealMatrix& magnitude, Real tol) {
  std::ostringstream msg;
  if (actual.rows() != expected.rows() || actual.cols() != expected.cols()) {
    msg << "shape " << actual.rows() << " x " << actual.cols() << ", expected " << expected.rows()
        << " x " << expected.cols();
    return msg.str();
  }
  for (Index j = 0; j < expected.cols(); ++j) {
    for (Index i = 0; i < expected.rows(); ++i) {
      const Real a = actual(i, j);
      const Real e = expected(i, j);
      if (!(std::fabs(a - e) <= tol * magnitude(i, j))) {
        msg.precision(10);
        msg << "entry (" << i << ", " << j << ") is " << a << ", expected " << e << " (bound "
            << tol * magnitude(i, j) << ")";
        return msg.str();
      }
    }
  }
  return {};
}

template glora::MatrixX<float> random_matrix<float>(std::mt19937&, Index, Index);
template glora::MatrixX<double> random_matrix<double>(std::mt19937&, Index, Index);
template glora::VectorX<float> random_vector<float>(std::mt19937&, Index);
template glora::VectorX<double> random_vector<double>(std::mt19937&, Index);

}  // namespace glora_test

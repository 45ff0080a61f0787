#include <algorithm>

#include "core/Check.h"
#include "core/Functions.h"
#include "core/kernels/Gemm.h"

namespace shrink {

using kernels::sgemm;
using kernels::Trans;

Variable matmul(const Variable& a, const Variable& b) {
  SHRINK_CHECK(a.defined() && b.defined(), "matmul: undefined operand");
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  SHRINK_CHECK(sa.rank() == 2 && sb.rank() == 2, "matmul: expected two matrices, got {} x {}", sa.str(),
               sb.str());
  SHRINK_CHECK(sa[1] == sb[0], "matmul: inner dimensions differ, {} x {} ({} vs {})", sa.str(), sb.str(),
               sa[1], sb[0]);
  const int64_t m = sa[0], k = sa[1], n = sb[1];
  Tensor out(Shape{m, n});
  sgemm(Trans::No, Trans::No, m, n, k, 1.0f, a.value().data(), k, b.value().data(), n, 0.0f, out.data(), n);
  return Variable::fromOp(
      std::move(out), {a, b},
      [m, k, n](std::vector<Variable>& in, const Tensor& g, const Tensor&) {
        if (in[0].requiresGrad())  // dA += dC B^T
          sgemm(Trans::No, Trans::Yes, m, k, n, 1.0f, g.data(), n, in[1].value().data(), n, 1.0f,
                in[0].gradBuffer().data(), k);
        if (in[1].requiresGrad())  // dB += A^T dC
          sgemm(Trans::Yes, Trans::No, k, n, m, 1.0f, in[0].value().data(), k, g.data(), n, 1.0f,
                in[1].gradBuffer().data(), n);
      },
      "matmul");
}

Variable linear(const Variable& x, const Variable& weight, const Variable& bias) {
  SHRINK_CHECK(x.defined() && weight.defined(), "linear: undefined input or weight");
  const Shape& sx = x.shape();
  const Shape& sw = weight.shape();
  SHRINK_CHECK(sx.rank() == 2, "linear: expected input [N, in], got {} (weight {})", sx.str(), sw.str());
  SHRINK_CHECK(sw.rank() == 2, "linear: expected weight [out, in], got {} (input {})", sw.str(), sx.str());
  SHRINK_CHECK(sx[1] == sw[1], "linear: input {} has {} features but weight {} expects {}", sx.str(), sx[1],
               sw.str(), sw[1]);
  const bool hasBias = bias.defined();
  if (hasBias)
    SHRINK_CHECK(bias.shape().rank() == 1 && bias.shape()[0] == sw[0],
                 "linear: expected bias [{}] for weight {}, got {}", sw[0], sw.str(), bias.shape().str());
  const int64_t batch = sx[0], in = sx[1], outF = sw[0];
  Tensor out(Shape{batch, outF});
  float beta = 0.0f;
  if (hasBias) {
    const float* bv = bias.value().data();
    for (int64_t i = 0; i < batch; ++i) std::copy(bv, bv + outF, out.data() + i * outF);
    beta = 1.0f;
  }
  // y = x W^T (+ b)
  sgemm(Trans::No, Trans::Yes, batch, outF, in, 1.0f, x.value().data(), in, weight.value().data(), in, beta,
        out.data(), outF);
  std::vector<Variable> inputs{x, weight};
  if (hasBias) inputs.push_back(bias);
  return Variable::fromOp(
      std::move(out), std::move(inputs),
      [batch, in, outF](std::vector<Variable>& inp, const Tensor& g, const Tensor&) {
        if (inp[0].requiresGrad())  // dX += dY W
          sgemm(Trans::No, Trans::No, batch, in, outF, 1.0f, g.data(), outF, inp[1].value().data(), in, 1.0f,
                inp[0].gradBuffer().data(), in);
        if (inp[1].requiresGrad())  // dW += dY^T X
          sgemm(Trans::Yes, Trans::No, outF, in, batch, 1.0f, g.data(), outF, inp[0].value().data(), in, 1.0f,
                inp[1].gradBuffer().data(), in);
        if (inp.size() > 2 && inp[2].requiresGrad()) {  // db += column sums of dY
          float* db = inp[2].gradBuffer().data();
          for (int64_t i = 0; i < batch; ++i) {
            const float* row = g.data() + i * outF;
            for (int64_t j = 0; j < outF; ++j) db[j] += row[j];
          }
        }
      },
      "linear");
}

}  // namespace shrink

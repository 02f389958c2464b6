#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>
#include <chrono>
#include <cstdio>
#include <vector>
#include <random>
#include <cmath>
using clk = std::chrono::steady_clock;
static void blas(char ta, char tb, int m, int n, int k, const float* a, const float* b, float* c) {
  cblas_sgemm(CblasRowMajor, ta=='T'?CblasTrans:CblasNoTrans, tb=='T'?CblasTrans:CblasNoTrans, m, n, k, 1.f, a, ta=='T'?m:k, b, tb=='T'?k:n, 0.f, c, n);
}
static void onednn(char ta, char tb, int m, int n, int k, const float* a, const float* b, float* c) {
  dnnl_sgemm(ta, tb, m, n, k, 1.f, a, ta=='T'?m:k, b, tb=='T'?k:n, 0.f, c, n);
}
int main() {
  std::mt19937 g(1); std::uniform_real_distribution<float> u(-1,1);
  struct S { const char* what; char ta, tb; int m, n, k; };
  std::vector<S> shapes;
  for (int batch : {32, 164}) for (auto [in, out] : {std::pair{512,1024}, {2048,1024}, {1024,512}}) {
    shapes.push_back({"fwd", 'N','T', batch, out, in});
    shapes.push_back({"dX ", 'N','N', batch, in, out});
    shapes.push_back({"dW ", 'T','N', out, in, batch});
  }
  double tb_all=0, td_all=0;
  for (auto s : shapes) {
    std::vector<float> a(size_t(s.m)*s.k*1), b(size_t(s.k)*s.n), c1(size_t(s.m)*s.n), c2(c1.size());
    for (auto& x : a) x = u(g); for (auto& x : b) x = u(g);
    auto time = [&](auto f, std::vector<float>& c) { for (int i=0;i<3;++i) f(s.ta,s.tb,s.m,s.n,s.k,a.data(),b.data(),c.data());
      double best=1e9; for (int r=0;r<5;++r){ auto t0=clk::now(); for(int i=0;i<10;++i) f(s.ta,s.tb,s.m,s.n,s.k,a.data(),b.data(),c.data());
      best=std::min(best,std::chrono::duration<double,std::milli>(clk::now()-t0).count()/10);} return best; };
    double tb = time(blas, c1), td = time(onednn, c2);
    double md=0; for (size_t i=0;i<c1.size();++i) md=std::max(md,(double)std::fabs(c1[i]-c2[i]));
    std::printf("%s m=%4d n=%4d k=%4d  openblas %7.3f ms  onednn %7.3f ms  ratio %.2f  maxdiff %.2g\n", s.what, s.m, s.n, s.k, tb, td, tb/td, md);
    tb_all+=tb; td_all+=td;
  }
  std::printf("total openblas %.2f ms onednn %.2f ms\n", tb_all, td_all);
}

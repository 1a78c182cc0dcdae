#ifndef CMINHASH_H
#define CMINHASH_H
#include <stddef.h>
#include <stdint.h>

/// Folds 32-bit shingle hashes into a MinHash signature: for each shingle x and permutation i,
/// sig[i] = min(sig[i], ((a[i] * x + b[i]) mod 2^64) >> 32), the multiply-add-shift universal
/// family (random 64-bit a and b; the wrap-around modulo 2^64 is what makes permutations
/// independent), computed with two 32-bit multiplies per lane (AVX2 has no 64-bit one). Picks
/// AVX-512, AVX2 or baseline code at run time.
void cminhash_update(const uint32_t *shingles, size_t count, const uint64_t *a, const uint64_t *b,
                     uint32_t *signature, size_t permutations);

/// Which kernel cminhash_update uses: "avx512", "avx2" or "baseline".
const char *cminhash_kernel(void);

#endif

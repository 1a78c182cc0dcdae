#ifndef CMINHASH_H
#define CMINHASH_H
#include <stddef.h>
#include <stdint.h>

/// 64-bit hash of a byte range, eight bytes per step.
uint64_t cminhash_bytes(const uint8_t *bytes, size_t count);

/// Hashes the words of `text` (runs of bytes other than 0x20) into `words`, which must hold
/// (count + 1) / 2 values; returns how many there are.
size_t cminhash_words(const uint8_t *text, size_t count, uint64_t *words);

/// 32-bit hashes of each run of `ngram` consecutive word hashes (one shingle of all the words when
/// there are at most `ngram`; none when there are none) into `shingles`; returns how many.
size_t cminhash_word_shingles(const uint64_t *words, size_t count, size_t ngram, uint32_t *shingles);

/// 32-bit hashes of each run of `ngram` consecutive bytes (one of the whole text when it is no
/// longer) into `shingles`, which must hold max(1, count - ngram + 1) values; returns how many.
size_t cminhash_byte_shingles(const uint8_t *text, size_t count, size_t ngram, uint32_t *shingles);

/// Folds 32-bit shingle hashes into a MinHash signature: for each shingle x and permutation i,
/// sig[i] = min(sig[i], ((a[i] * x + b[i]) mod 2^64) >> 32), the multiply-add-shift universal
/// family (random 64-bit a and b; the wrap-around modulo 2^64 is what makes permutations
/// independent), computed with two 32-bit multiplies per lane (AVX2 has no 64-bit one). Picks
/// AVX-512, AVX2 or baseline code at run time.
void cminhash_update(const uint32_t *shingles, size_t count, const uint64_t *a, const uint64_t *b,
                     uint32_t *signature, size_t permutations);

/// Sorts `values` ascending and drops repeats (an LSD radix sort, a byte per pass, through
/// `scratch`, which must hold `count` values); returns how many distinct values remain, first in
/// `values`.
size_t cminhash_sorted_set(uint32_t *values, uint32_t *scratch, size_t count);

/// Which kernel cminhash_update uses: "avx512", "avx2" or "baseline".
const char *cminhash_kernel(void);

#endif

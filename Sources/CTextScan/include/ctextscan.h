#ifndef CTEXTSCAN_H
#define CTEXTSCAN_H
#include <stddef.h>
#include <stdint.h>

/// Finds, from `start`, the run of plain ASCII words of `text[0..<end]`: pieces between ASCII
/// white space (0x09-0x0D, 0x1C-0x20) made of letters and digits with no letter after a digit.
/// Their bounds go to `bounds` as (start, end) pairs, at most `capacity` words. Stops at the
/// first piece that is not such a word (or holds a byte >= 0x80), at `end`, or when `bounds`
/// is full; returns how many words it found and sets `*stop` to where it stopped (white space
/// before that point is consumed). AVX2 on CPUs that have it, the same rules byte by byte
/// elsewhere.
size_t ctextscan_plain_words(const uint8_t *text, size_t start, size_t end, int64_t *bounds, size_t capacity,
                             size_t *stop);

#endif

// OpenBLAS's CBLAS interface plus its thread and kernel queries (Debian: libopenblas-dev).
#include <cblas.h>

// Small CPU helpers for the inference engine's Swift code.
#pragma once

/// Tells the CPU this thread is spinning on a flag (PAUSE on x86), so the spin costs the
/// sibling hyper-thread and the memory system less.
static inline void ik_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

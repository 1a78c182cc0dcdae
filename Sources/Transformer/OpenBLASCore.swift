import CBLAS
import Foundation

/// OpenBLAS chooses its kernels from the CPU's model number when it loads. On a CPU it does not
/// know (a virtual machine that reports a generic "Intel Xeon Processor", or a model newer than
/// the library) it falls back to Prescott's SSE3 kernels, a third of the speed the CPU's AVX2
/// or AVX-512 kernels reach. `OPENBLAS_CORETYPE` overrides the choice, but only before the
/// library loads, so pipe sets it and runs itself again.
public enum OpenBLASCore {
    /// OpenBLAS's kernel families that use AVX2 and FMA or more: a choice among these is left alone.
    static let vectorFamilies: Set<String> = ["Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids", "Excavator"]

    /// The kernel family to ask for instead of `chosen` on a CPU with these features, or nil
    /// when the choice fits the CPU (or the CPU has neither AVX2 nor AVX-512).
    static func replacement(for chosen: String, avx2: Bool, avx512: Bool) -> String? {
        guard !vectorFamilies.contains(chosen) else { return nil }
        if avx512 { return "SkylakeX" }
        return avx2 ? "Haswell" : nil
    }

    /// When `OPENBLAS_CORETYPE` is not set (or empty) and OpenBLAS chose kernels below what the CPU runs,
    /// replaces this process (same pid, same arguments) by itself with `OPENBLAS_CORETYPE` set.
    /// A value the environment set is always respected. Call first thing in `main`.
    public static func restartWithMatchingKernelsIfMisdetected() {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]?.isEmpty ?? true,
              let core = replacement(for: BLAS.coreName, avx2: pipe_cpu_has_avx2_fma() != 0, avx512: pipe_cpu_has_avx512_skylakex() != 0)
        else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Still here: the exec failed, and the process goes on with the kernels it has.
        unsetenv("OPENBLAS_CORETYPE")
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// This process's peak resident memory so far, in bytes (getrusage's ru_maxrss, which Linux
/// counts in kilobytes).
public enum ProcessMemory {
    public static var peakResidentBytes: Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss) * 1024
    }
}

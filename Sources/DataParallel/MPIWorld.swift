import CMPILoader
import Foundation
import Support

/// The MPI ranks this process trains with: rank, size, and in-place sums over all ranks.
///
/// Open MPI is loaded with dlopen only when a launcher (`mpirun`, `srun --mpi=pmix`) started
/// this process, so pipe builds and runs without MPI installed. `PIPE_LIBMPI` names another
/// library file (default `libmpi.so.40`, Open MPI 4 and 5).
public final class MPIWorld: @unchecked Sendable {
    public let rank: Int
    public let size: Int

    /// The world of this process, or nil when no MPI launcher started it.
    public static func current() throws -> MPIWorld? {
        try lock.withLock {
            if let world = shared { return world }
            let env = ProcessInfo.processInfo.environment
            guard env["OMPI_COMM_WORLD_SIZE"] != nil || env["PMIX_RANK"] != nil else { return nil }
            let world = try MPIWorld(library: env["PIPE_LIBMPI"] ?? "libmpi.so.40")
            shared = world
            return world
        }
    }

    nonisolated(unsafe) private static var shared: MPIWorld?
    private static let lock = NSLock()

    private init(library: String) throws {
        var error = [CChar](repeating: 0, count: 512)
        guard pipe_mpi_load(library, &error, error.count) == 0 else {
            throw StageError("MPI: " + Self.text(error) + " (install Open MPI: apt-get install openmpi-bin)")
        }
        try Self.check(pipe_mpi_init(), "MPI_Init")
        var r: Int32 = 0, s: Int32 = 0
        try Self.check(pipe_mpi_rank(&r), "MPI_Comm_rank")
        try Self.check(pipe_mpi_size(&s), "MPI_Comm_size")
        rank = Int(r)
        size = Int(s)
    }

    /// Replaces `count` floats at `buffer` with their sum over all ranks.
    public func sumInPlace(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {
        try Self.check(pipe_mpi_allreduce_sum_float(buffer, count), "MPI_Allreduce")
    }

    /// The sum of `value` over all ranks.
    public func sum(_ value: Double) throws -> Double {
        var v = value
        try Self.check(pipe_mpi_allreduce_sum_double(&v, 1), "MPI_Allreduce")
        return v
    }

    private static func text(_ chars: [CChar]) -> String {
        String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func check(_ code: Int32, _ call: String) throws {
        guard code != 0 else { return }
        var text = [CChar](repeating: 0, count: 512)
        pipe_mpi_error_string(code, &text, text.count)
        throw StageError("\(call) failed: \(Self.text(text))")
    }
}

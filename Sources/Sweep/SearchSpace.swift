import PipeKit

/// The parameters a sweep varies: one `Dimension` per params path, in path order (the fixed
/// order grids enumerate and samplers draw in).
public struct SearchSpace: Sendable, Equatable {
    public var dimensions: [Dimension]

    public init(dimensions: [Dimension]) {
        self.dimensions = dimensions.sorted { $0.path < $1.path }
    }

    /// Reads the manifest's `sweep.space` mapping (params path to dimension); `path` is where it
    /// sits (`sweep.space`) for error messages. Every bad dimension is reported at once.
    public init(parsing value: JSONValue, path: String) throws {
        guard let entries = value.objectValue else {
            throw SweepConfigError(field: path, "expected a mapping from params paths to dimensions, found \(value.typeName)")
        }
        guard !entries.isEmpty else { throw SweepConfigError(field: path, "needs at least one dimension") }
        var dimensions: [Dimension] = [], problems: [String] = []
        for key in entries.keys.sorted() {
            let field = "\(path).\(key)"
            guard Self.isParamsPath(key) else {
                problems.append("\(field): not a params path (names of letters, digits, _ and -, joined by dots)")
                continue
            }
            do { dimensions.append(try Dimension(parsing: entries[key]!, key: key, path: field)) }
            catch let error as SweepConfigError { problems += error.problems }
        }
        guard problems.isEmpty else { throw SweepConfigError(problems) }
        self.init(dimensions: dimensions)
    }

    /// The dimension for a params path.
    public subscript(path: String) -> Dimension? { dimensions.first { $0.path == path } }

    private static func isParamsPath(_ key: String) -> Bool {
        key.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { part in
            !part.isEmpty && part.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
        }
    }
}

import PipeKit

/// Every combination of the space's `grid` and `choice` values, once each.
///
/// Trial n takes combination n of the Cartesian product in a fixed order: dimensions in path
/// order, the last varying fastest, each dimension's values in the order listed (an odometer).
/// Past the last combination it answers nil. Numeric dimensions cannot be enumerated and are an
/// error naming them.
public struct GridSampler: Sampler {
    public let space: SearchSpace
    /// The number of combinations, which is the number of trials the sweep runs.
    public let plannedCount: Int

    public init(space: SearchSpace) throws {
        let numeric = space.dimensions.filter { $0.categories == nil }
        guard numeric.isEmpty else {
            throw SweepConfigError(field: "sweep.sampler", "a grid sweep enumerates only grid and choice dimensions; "
                + numeric.map { "\($0.path) is \($0.kindName)" }.joined(separator: ", "))
        }
        var count = 1
        for dimension in space.dimensions {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension.categories!.count)
            guard !overflow else { throw SweepConfigError(field: "sweep.space", "the grid has more combinations than fit in an integer") }
            count = product
        }
        self.space = space
        self.plannedCount = count
    }

    public func suggest(number: Int, history: [TrialRecord]) -> [String: JSONValue]? {
        guard number >= 0, number < plannedCount else { return nil }
        var params: [String: JSONValue] = [:], rest = number
        for dimension in space.dimensions.reversed() {
            let values = dimension.categories!
            params[dimension.path] = values[rest % values.count]
            rest /= values.count
        }
        return params
    }
}

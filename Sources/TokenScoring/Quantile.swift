extension Array where Element == Double {
    /// The `q` quantile of these values, which must be sorted, interpolating linearly between
    /// neighbours (numpy's default); nil when there are none. The ends of the bootstrap
    /// intervals in `monitor` and `compare`.
    public func sortedQuantile(_ q: Double) -> Double? {
        guard !isEmpty else { return nil }
        let position = q * Double(count - 1)
        let below = Int(position.rounded(.down)), above = Swift.min(below + 1, count - 1)
        return self[below] + (self[above] - self[below]) * (position - Double(below))
    }
}

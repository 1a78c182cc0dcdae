/// Where a server's model comes from: its first load and, for a source that can change (a
/// manifest stage whose next run replaces its output), a check for a newer one every `interval`
/// seconds. Both run on threads of their own, never on a request's.
public struct ModelSupply: Sendable {
    public var load: @Sendable () throws -> ServedModel
    /// A newer model, loaded, or nil while the source is unchanged.
    public var newer: (@Sendable () throws -> ServedModel?)?
    public var interval: Double

    /// A model that never changes.
    public init(load: @escaping @Sendable () throws -> ServedModel) {
        self.load = load
        newer = nil
        interval = 0
    }

    /// A model whose source is checked for a newer one every `interval` seconds.
    public init(load: @escaping @Sendable () throws -> ServedModel, newer: @escaping @Sendable () throws -> ServedModel?,
                interval: Double) {
        self.load = load
        self.newer = newer
        self.interval = interval
    }
}

/// One sequence's keys and values, f32, laid out [layer][position][kvDim]. Room grows (doubling,
/// up to the context) as tokens arrive, so memory follows the tokens a sequence holds, not the
/// context a model allows.
public final class KVCache: @unchecked Sendable {
    public let layers: Int
    public let width: Int
    public let context: Int
    public private(set) var capacity = 0
    private(set) var keys = FloatBuffer(count: 0)
    private(set) var values = FloatBuffer(count: 0)

    public init(layers: Int, width: Int, context: Int) {
        self.layers = layers
        self.width = width
        self.context = context
    }

    /// Makes room for `positions` positions, keeping the first `kept` of each layer.
    public func reserve(_ positions: Int, keeping kept: Int) {
        guard positions > capacity else { return }
        let grown = min(context, max(positions, 2 * capacity, 64))
        let (newKeys, newValues) = (FloatBuffer(count: layers * grown * width), FloatBuffer(count: layers * grown * width))
        for l in 0..<layers where kept > 0 {
            (newKeys.pointer + l * grown * width).update(from: keys.pointer + l * capacity * width, count: kept * width)
            (newValues.pointer + l * grown * width).update(from: values.pointer + l * capacity * width, count: kept * width)
        }
        (keys, values, capacity) = (newKeys, newValues, grown)
    }

    /// Layer `l`'s keys and values, position 0 first.
    public func keys(_ l: Int) -> UnsafeMutablePointer<Float> { keys.pointer + l * capacity * width }
    public func values(_ l: Int) -> UnsafeMutablePointer<Float> { values.pointer + l * capacity * width }
}

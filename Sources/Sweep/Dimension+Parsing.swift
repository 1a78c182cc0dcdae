import PipeKit

extension Dimension {
    /// Reads one entry of `sweep.space`: `{kind: uniform | log_uniform, low, high}`,
    /// `{kind: int, low, high, log?, step?}` or `{kind: choice | grid, values: [...]}`.
    init(parsing value: JSONValue, key: String, path: String) throws {
        var fields = try ConfigFields(value, path: path)
        guard let kindName = try fields.string("kind") else {
            throw fields.missing("kind", "uniform, log_uniform, int, choice, grid")
        }
        let kind: Kind
        switch kindName {
        case "uniform", "log_uniform": kind = try Self.parseFloatRange(&fields, log: kindName == "log_uniform")
        case "int": kind = .int(try Self.parseIntRange(&fields))
        case "choice": kind = .choice(try Self.parseValues(&fields, kind: kindName))
        case "grid": kind = .grid(try Self.parseValues(&fields, kind: kindName))
        default:
            throw SweepConfigError(field: fields.fieldPath("kind"),
                                   "unknown kind '\(kindName)' (known: uniform, log_uniform, int, choice, grid)")
        }
        try fields.finish()
        self.init(path: key, kind: kind)
    }

    private static func parseFloatRange(_ fields: inout ConfigFields, log: Bool) throws -> Kind {
        let name = log ? "log_uniform" : "uniform"
        guard let low = try fields.number("low") else { throw fields.missing("low", "a number") }
        guard let high = try fields.number("high") else { throw fields.missing("high", "a number") }
        if log {
            guard low > 0, low < high else { throw SweepConfigError(field: fields.path, "\(name) needs 0 < low < high, found low \(low), high \(high)") }
            return .logUniform(low: low, high: high)
        }
        guard low < high else { throw SweepConfigError(field: fields.path, "\(name) needs low < high, found low \(low), high \(high)") }
        return .uniform(low: low, high: high)
    }

    /// Integers stay within ±2^53 so that every value and step is exact as a double.
    private static let integerLimit: Int64 = 1 << 53

    private static func parseIntRange(_ fields: inout ConfigFields) throws -> IntRange {
        guard let low = try fields.integer("low") else { throw fields.missing("low", "an integer") }
        guard let high = try fields.integer("high") else { throw fields.missing("high", "an integer") }
        let log = try fields.bool("log") ?? false
        let step = try fields.integer("step") ?? 1
        let problem: String? =
            max(abs(low), abs(high)) > integerLimit ? "int bounds must lie within ±2^53, found low \(low), high \(high)"
            : low >= high ? "int needs low < high, found low \(low), high \(high)"
            : step < 1 ? "int step must be at least 1, found \(step)"
            : (high - low) % step != 0 ? "int step \(step) does not divide high - low = \(high - low)"
            : log && low < 1 ? "int with log: true needs low >= 1, found \(low)"
            : log && step != 1 ? "int with log: true takes no step other than 1, found \(step)"
            : nil
        if let problem { throw SweepConfigError(field: fields.path, problem) }
        return IntRange(low: low, high: high, log: log, step: step)
    }

    private static func parseValues(_ fields: inout ConfigFields, kind: String) throws -> [JSONValue] {
        guard let values = try fields.list("values") else { throw fields.missing("values", "a non-empty list") }
        let field = fields.fieldPath("values")
        guard !values.isEmpty else { throw SweepConfigError(field: field, "\(kind) needs at least one value") }
        for (index, value) in values.enumerated() {
            switch value {
            case .array, .object: throw SweepConfigError(field: "\(field)[\(index)]", "expected a scalar, found \(value.typeName)")
            case .double(let number) where !number.isFinite:
                throw SweepConfigError(field: "\(field)[\(index)]", "expected a finite number, found \(number)")
            default: break
            }
            if let first = values[..<index].firstIndex(where: { $0.sameParam(as: value) }) {
                throw SweepConfigError(field: "\(field)[\(index)]", "repeats \(field)[\(first)] (\(value.canonicalJSON))")
            }
        }
        return values
    }
}

import Foundation
import PipeKit

extension JSONValue {
    /// The same parameter value, with an integer and an integral float counted as equal (a
    /// journal read back may give `1` for `1.0`).
    func sameParam(as other: JSONValue) -> Bool {
        if self == other { return true }
        guard let a = doubleValue, let b = other.doubleValue else { return false }
        return a == b
    }
}

extension Dimension {
    /// The number a sampler models for `value` (the value itself, or a category's index), or nil
    /// when the value is not one this dimension can take.
    func internalValue(of value: JSONValue) -> Double? {
        switch kind {
        case .uniform(let low, let high), .logUniform(let low, let high):
            guard let number = value.doubleValue, number >= low, number <= high else { return nil }
            return number
        case .int(let range):
            guard let number = value.doubleValue, number == number.rounded(),
                  number >= Double(range.low), number <= Double(range.high),
                  (Int64(number) - range.low) % range.step == 0 else { return nil }
            return number
        case .choice(let values), .grid(let values):
            return values.firstIndex { $0.sameParam(as: value) }.map(Double.init)
        }
    }

    /// The parameter value for a sampler's number: a float, an integer or the category.
    func externalValue(of number: Double) -> JSONValue {
        switch kind {
        case .uniform(let low, let high), .logUniform(let low, let high):
            return .double(min(max(number, low), high))
        case .int(let range):
            let steps = ((number - Double(range.low)) / Double(range.step)).rounded()
            return .int(min(max(range.low + Int64(steps) * range.step, range.low), range.high))
        case .choice(let values), .grid(let values):
            return values[min(max(Int(number), 0), values.count - 1)]
        }
    }
}

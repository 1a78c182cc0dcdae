import Foundation
import PipeKit

/// The fields of a JSON request body, read with their types checked: a wrong type or a value out
/// of range is a 400 naming the field (`param`), never a crash or a silent default.
struct RequestFields {
    let object: [String: JSONValue]

    /// Parses a body: malformed JSON, invalid UTF-8 or a body that is not an object is a 400.
    init(body: Data) throws(APIError) {
        let value: JSONValue
        do {
            value = try JSONValue.parse(body)
        } catch {
            throw .invalid("the body is not valid JSON (UTF-8): \(Self.reason(error))")
        }
        guard let object = value.objectValue else { throw .invalid("the body must be a JSON object, not a \(value.typeName)") }
        self.object = object
    }

    init(_ object: [String: JSONValue]) { self.object = object }

    /// The value of `key`, with JSON null read as absent.
    subscript(key: String) -> JSONValue? {
        guard let value = object[key], value != .null else { return nil }
        return value
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard let value = self[key] else { return nil }
        let number: Int
        switch value {
        case .int(let i) where i >= Int64(Int.min) && i <= Int64(Int.max): number = Int(i)
        case .double(let d) where d == d.rounded() && abs(d) < 1e15: number = Int(d)
        default: throw .invalid("\(key) must be an integer, not \(value.canonicalJSON.prefix(40))", param: key)
        }
        guard range.contains(number) else { throw .invalid("\(key) must be in \(range.lowerBound)...\(range.upperBound), not \(number)", param: key) }
        return number
    }

    func double(_ key: String, in range: ClosedRange<Double>) throws(APIError) -> Double? {
        guard let value = self[key] else { return nil }
        guard let number = value.doubleValue else { throw .invalid("\(key) must be a number, not \(value.typeName)", param: key) }
        guard range.contains(number) else { throw .invalid("\(key) must be in \(range.lowerBound)...\(range.upperBound), not \(number)", param: key) }
        return number
    }

    func bool(_ key: String) throws(APIError) -> Bool? {
        guard let value = self[key] else { return nil }
        guard let flag = value.boolValue else { throw .invalid("\(key) must be true or false, not \(value.typeName)", param: key) }
        return flag
    }

    func string(_ key: String) throws(APIError) -> String? {
        guard let value = self[key] else { return nil }
        guard let text = value.stringValue else { throw .invalid("\(key) must be a string, not \(value.typeName)", param: key) }
        return text
    }

    func object(_ key: String) throws(APIError) -> RequestFields? {
        guard let value = self[key] else { return nil }
        guard let fields = value.objectValue else { throw .invalid("\(key) must be an object, not \(value.typeName)", param: key) }
        return RequestFields(fields)
    }

    /// `stop`: a string or a list of at most 4 non-empty strings.
    func stops() throws(APIError) -> [String] {
        guard let value = self["stop"] else { return [] }
        let stops: [String]
        if let one = value.stringValue {
            stops = [one]
        } else if let list = value.arrayValue, list.allSatisfy({ $0.stringValue != nil }) {
            stops = list.compactMap(\.stringValue)
        } else {
            throw .invalid("stop must be a string or a list of strings", param: "stop")
        }
        guard stops.count <= 16 else { throw .invalid("stop takes at most 16 strings", param: "stop") }
        return stops.filter { !$0.isEmpty }
    }

    /// The decoder's reason, without the coding path noise.
    private static func reason(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            return (context.underlyingError.map { "\($0)" } ?? context.debugDescription).prefix(200).description
        }
        return "\(error)".prefix(200).description
    }
}

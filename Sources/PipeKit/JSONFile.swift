import Foundation

extension JSONValue {
    /// Writes the value as indented JSON with sorted keys to `url`.
    public func write(to url: URL) throws {
        try Data(prettyJSON.utf8).write(to: url)
    }
}

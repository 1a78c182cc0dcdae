/// One record of a delimited file as its lines arrive. At most `maxBytes` of it are kept; a
/// longer record is only measured, so that it can be reported and skipped.
struct DelimitedRecord {
    let maxBytes: Int
    /// The lines so far, each ended by `\n`.
    private(set) var text: [UInt8] = []
    /// Where the record's first line began in the stream.
    private(set) var offset = 0
    /// The record's length once it has outgrown `maxBytes`.
    private(set) var oversizedBytes: Int?

    init(maxBytes: Int) { self.maxBytes = maxBytes }

    /// The longest next line that can still be kept.
    var room: Int { maxBytes - text.count }

    /// Adds a line (without its `\n`) that began at `offset`.
    mutating func append(_ line: UnsafeBufferPointer<UInt8>, at offset: Int) {
        begin(at: offset)
        if oversizedBytes == nil && line.count <= room {
            text.append(contentsOf: line)
            text.append(0x0A)
        } else {
            measure(line.count)
        }
    }

    /// Adds a line of `bytes` that was read past without being kept.
    mutating func appendOversized(_ bytes: Int, at offset: Int) {
        begin(at: offset)
        measure(bytes)
    }

    private mutating func begin(at offset: Int) {
        if text.isEmpty && oversizedBytes == nil { self.offset = offset }
    }

    /// Counts a line of `bytes` (and its `\n`) into an oversized record, dropping what was kept.
    private mutating func measure(_ bytes: Int) {
        oversizedBytes = (oversizedBytes ?? text.count) + bytes + 1
        text = []
    }
}

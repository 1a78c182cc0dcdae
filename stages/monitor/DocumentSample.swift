import Foundation
import PipeKit

/// At most `limit` documents of a documents artifact, each equally likely to be kept (seeded
/// reservoir sampling), in the order they were read; so a large side costs bounded memory.
struct DocumentSample {
    var texts: [String]
    /// Documents in the artifact.
    var seen: Int

    /// Reads `input` (materialized under `folder`; lines capped by `DocumentsReader`).
    static func read(_ input: any ArtifactReading, folder: URL, limit: Int, seed: UInt64) throws -> DocumentSample {
        let reader = try DocumentsReader(folder: input.materialize(into: folder))
        var rng = SplitMix64(seed: seed)
        var kept: [(index: Int, text: String)] = []
        var seen = 0
        try reader.forEach { document in
            if kept.count < limit {
                kept.append((seen, document.text))
            } else {
                let slot = Int(rng.next() % UInt64(seen + 1))
                if slot < limit { kept[slot] = (seen, document.text) }
            }
            seen += 1
        }
        return DocumentSample(texts: kept.sorted { $0.index < $1.index }.map(\.text), seen: seen)
    }
}

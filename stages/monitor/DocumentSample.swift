import Foundation
import PipeKit

/// At most `limit` documents of a documents artifact, each equally likely to be kept (seeded
/// reservoir sampling), in the order they were read, holding at most `maxBytes` of text; so a
/// large side costs bounded memory.
struct DocumentSample {
    var texts: [String]
    /// Documents in the artifact.
    var seen: Int

    /// Reads `input` (materialized under `folder`; lines capped by `DocumentsReader`); more than
    /// `maxBytes` of text in the sample at any time is an error naming `side`.
    static func read(_ input: any ArtifactReading, folder: URL, limit: Int, maxBytes: Int, seed: UInt64,
                     side: String) throws -> DocumentSample
    {
        let reader = try DocumentsReader(folder: input.materialize(into: folder))
        var rng = SplitMix64(seed: seed)
        var kept: [(index: Int, text: String)] = []
        var seen = 0, bytes = 0
        try reader.forEach { document in
            let size = document.text.utf8.count
            if kept.count < limit {
                kept.append((seen, document.text))
                bytes += size
            } else {
                let slot = Int(rng.next() % UInt64(seen + 1))
                if slot < limit {
                    bytes += size - kept[slot].text.utf8.count
                    kept[slot] = (seen, document.text)
                }
            }
            guard bytes <= maxBytes else {
                throw StageError("\(side): the sampled documents hold more than max_bytes (\(maxBytes)) of text; lower max_documents or raise max_bytes")
            }
            seen += 1
        }
        return DocumentSample(texts: kept.sorted { $0.index < $1.index }.map(\.text), seen: seen)
    }
}

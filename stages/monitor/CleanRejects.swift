import Foundation
import PipeKit

/// How many documents a `clean` run rejected, read from its `stats` artifact (`metrics.json`:
/// `documents.in`, `documents.out`, `clean.<filter>.documents_in`, `clean.<filter>.rejected`).
/// Two runs of the same filters, one over the training text and one over fresh text, give the
/// rate at which fresh text would be rejected by the reference pipeline.
struct CleanRejects {
    var documents: Int
    var rejected: Int
    /// Documents each filter saw and rejected, by filter name.
    var filters: [String: (seen: Int, rejected: Int)]

    /// The share of documents rejected; nil for no documents.
    var rate: Double? { documents > 0 ? Double(rejected) / Double(documents) : nil }

    /// Reads `metrics.json` of a clean stage's stats; `side` names it in errors.
    static func read(_ input: any ArtifactReading, side: String) throws -> CleanRejects {
        let counts: [String: Double]
        do {
            counts = try JSONDecoder().decode([String: Double].self, from: input.read("metrics.json"))
        } catch {
            throw StageError("\(side): not a clean stage's stats (metrics.json of counts): \(error)")
        }
        func count(_ key: String) throws -> Int {
            let value = counts[key] ?? 0
            guard value.isFinite, value >= 0, value <= 1e15, value == value.rounded() else {
                throw StageError("\(side): metrics.json \(key) is not a count: \(value)")
            }
            return Int(value)
        }
        guard counts["documents.in"] != nil, counts["documents.out"] != nil else {
            throw StageError("\(side): metrics.json has no documents.in and documents.out; wire a clean stage's stats output")
        }
        let documents = try count("documents.in"), kept = try count("documents.out")
        guard kept <= documents else { throw StageError("\(side): metrics.json keeps more documents (\(kept)) than it read (\(documents))") }
        var filters: [String: (seen: Int, rejected: Int)] = [:]
        for key in counts.keys where key.hasPrefix("clean.") && key.hasSuffix(".documents_in") {
            let name = String(key.dropFirst("clean.".count).dropLast(".documents_in".count))
            filters[name] = (try count(key), try count("clean.\(name).rejected"))
        }
        return CleanRejects(documents: documents, rejected: documents - kept, filters: filters)
    }
}

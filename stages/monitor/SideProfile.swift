import BPETokenizer
import LanguageIdentification
import PipeKit

/// What the monitor measures of one side's documents without the model: token counts by the
/// model's tokenizer, lengths in bytes and the main language of each document.
struct SideProfile {
    /// Each document's token ids.
    var encoded: [[Int32]]
    /// Occurrences of each token id over all documents.
    var tokenCounts: [Int]
    /// Each document's length in UTF-8 bytes.
    var lengths: [Double]
    /// Each document's language by CLD2 (`un` when it cannot tell).
    var languages: [String]

    init(texts: [String], tokenizer: Tokenizer, identifier: LanguageIdentifier) {
        encoded = texts.map { tokenizer.encode($0) }
        var counts = [Int](repeating: 0, count: tokenizer.vocabularySize)
        for ids in encoded { for id in ids { counts[Int(id)] += 1 } }
        tokenCounts = counts
        lengths = texts.map { Double($0.utf8.count) }
        languages = texts.map { identifier.identify(Array($0.utf8)).code }
    }

    var documents: Int { encoded.count }
    var tokens: Int { encoded.reduce(0) { $0 + $1.count } }
    var bytes: Int { Int(lengths.reduce(0, +)) }
    var tokensPerByte: Double? { bytes > 0 ? Double(tokens) / Double(bytes) : nil }

    /// Documents in each language.
    var languageCounts: [String: Int] { languages.reduce(into: [:]) { $0[$1, default: 0] += 1 } }

    /// The share of documents in each language.
    var languageShares: [String: Double] { languageCounts.mapValues { Double($0) / Double(languages.count) } }
}

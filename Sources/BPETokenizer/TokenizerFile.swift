import Foundation
import PipeKit

/// Reads and writes Hugging Face `tokenizer.json` for byte-level BPE: a ByteLevel
/// pre-tokenizer (GPT-2 regex, no prefix space), ByteLevel decoder, BPE model with merges
/// written as `"a b"` strings (the pair form breaks `tokenizers` < 0.20), special tokens as
/// added tokens.
package enum TokenizerFile {
    package static func write(_ model: BPEModel, to url: URL) throws {
        var out = "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": ["
        for (n, special) in model.specials.enumerated() {
            out += n == 0 ? "\n" : ",\n"
            out += "    {\"id\": \(special.id), \"content\": \(JSONValue.string(special.text).canonicalJSON), \"single_word\": false, "
                + "\"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}"
        }
        out += model.specials.isEmpty ? "],\n" : "\n  ],\n"
        out += """
          "normalizer": null,
          "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
          "post_processor": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
          "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
          "model": {
            "type": "BPE",
            "dropout": null,
            "unk_token": null,
            "continuing_subword_prefix": null,
            "end_of_word_suffix": null,
            "fuse_unk": false,
            "byte_fallback": false,
            "ignore_merges": false,
            "vocab": {
        """
        let specialIds = Set(model.specials.map(\.id))
        for (id, bytes) in model.tokens.enumerated() {
            let text = specialIds.contains(Int32(id)) ? String(decoding: bytes, as: UTF8.self) : ByteLevel.encode(bytes)
            out += (id == 0 ? "\n" : ",\n") + "      \(JSONValue.string(text).canonicalJSON): \(id)"
        }
        out += "\n    },\n    \"merges\": ["
        for (n, m) in model.merges.enumerated() {
            let pair = ByteLevel.encode(model.tokens[Int(m.left)]) + " " + ByteLevel.encode(model.tokens[Int(m.right)])
            out += (n == 0 ? "\n" : ",\n") + "      " + JSONValue.string(pair).canonicalJSON
        }
        out += model.merges.isEmpty ? "]\n  }\n}\n" : "\n    ]\n  }\n}\n"
        try Data(out.utf8).write(to: url)
    }

    /// The `tokenizer_config.json` that lets `transformers` load the tokenizer.
    package static func writeConfig(_ model: BPEModel, endOfText: String?, to url: URL) throws {
        var config: [String: JSONValue] = [
            "tokenizer_class": .string("PreTrainedTokenizerFast"),
            "model_max_length": .int(1 << 30),
            "add_prefix_space": .bool(false),
            "clean_up_tokenization_spaces": .bool(false),
        ]
        if let eot = endOfText {
            config["eos_token"] = .string(eot)
            config["bos_token"] = .string(eot)
            config["unk_token"] = .string(eot)
        }
        try JSONValue.object(config).write(to: url)
    }

    /// The largest tokenizer.json read: GPT-2's is 1.4 MB, a byte-level vocabulary of 2^18
    /// tokens with its merges about 10 MB.
    package static let maxFileBytes = 32 << 20
    /// The most JSON values (counted as commas and opening brackets outside strings) read:
    /// parsing costs about 25 bytes per value, so this bounds it near 100 MB whatever the
    /// file's shape. GPT-2's tokenizer.json has about 150,000.
    package static let maxJSONValues = 1 << 22

    /// Reads a byte-level BPE `tokenizer.json`.
    package static func read(_ url: URL) throws -> BPEModel {
        let where_ = url.lastPathComponent
        let json = try JSONValue.parse(boundedContents(url))
        guard let model = json["model"], model["type"]?.stringValue == "BPE" else {
            throw TokenizerError("\(where_): only BPE models are supported")
        }
        if let pre = json["pre_tokenizer"], pre != .null, pre["type"]?.stringValue != "ByteLevel" || pre["add_prefix_space"]?.boolValue == true || pre["use_regex"]?.boolValue == false {
            throw TokenizerError("\(where_): only the GPT-2 ByteLevel pre-tokenizer (use_regex, no prefix space) is supported")
        }
        if let normalizer = json["normalizer"], normalizer != .null {
            throw TokenizerError("\(where_): normalizers are not supported")
        }
        guard let vocab = model["vocab"]?.objectValue else { throw TokenizerError("\(where_): model.vocab is missing") }
        var tokens = [[UInt8]?](repeating: nil, count: vocab.count)
        let specials = try addedTokens(json["added_tokens"], vocab: vocab, file: where_).filter(\.special).map { (id: $0.id, text: $0.text) }
        let specialTexts = Set(specials.map(\.text))
        var ids: [String: Int32] = [:]
        for (text, value) in vocab {
            guard let id = value.intValue, id >= 0, Int(id) < tokens.count else {
                throw TokenizerError("\(where_): model.vocab gives \(JSONValue.string(text).canonicalJSON) the id \(value.canonicalJSON); ids must be 0..<\(vocab.count)")
            }
            guard tokens[Int(id)] == nil else { throw TokenizerError("\(where_): model.vocab gives the id \(id) to two tokens") }
            if specialTexts.contains(text) {
                tokens[Int(id)] = Array(text.utf8)
            } else {
                guard let bytes = ByteLevel.decode(text) else {
                    throw TokenizerError("\(where_): token \(JSONValue.string(text).canonicalJSON) is not byte-level")
                }
                tokens[Int(id)] = bytes
            }
            ids[text] = Int32(id)
        }
        let all = tokens.map { $0! }  // vocab.count distinct ids in 0..<vocab.count fill every slot
        var merges: [(left: Int32, right: Int32, result: Int32)] = []
        for (n, entry) in (model["merges"]?.arrayValue ?? []).enumerated() {
            let parts: [String]
            if let text = entry.stringValue {
                parts = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            } else {
                parts = entry.arrayValue?.compactMap(\.stringValue) ?? []
            }
            guard parts.count == 2, let left = ids[parts[0]], let right = ids[parts[1]], let result = ids[parts[0] + parts[1]] else {
                throw TokenizerError("\(where_): merge \(n) (\(entry.canonicalJSON)) names tokens not in the vocabulary")
            }
            merges.append((left, right, result))
        }
        return try BPEModel(tokens: all, specials: specials.sorted { $0.id < $1.id }, merges: merges)
    }

    /// The file's bytes, refused when over `maxFileBytes` or `maxJSONValues`, before parsing.
    private static func boundedContents(_ url: URL) throws -> Data {
        let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int ?? 0
        guard size <= maxFileBytes else {
            throw TokenizerError("\(url.lastPathComponent): \(size) bytes; tokenizer files over \(maxFileBytes) bytes are refused")
        }
        let data = try Data(contentsOf: url)
        guard data.count <= maxFileBytes else { throw TokenizerError("\(url.lastPathComponent): grew past \(maxFileBytes) bytes while read") }
        let values = jsonValueCount(data)
        guard values <= maxJSONValues else {
            throw TokenizerError("\(url.lastPathComponent): about \(values) JSON values; tokenizer files with over \(maxJSONValues) are refused")
        }
        return data
    }

    /// Commas and opening brackets outside strings: about the number of values in a JSON
    /// text, counted without parsing it.
    private static func jsonValueCount(_ data: Data) -> Int {
        data.withUnsafeBytes { bytes in
            var inString = false, escaped = false, count = 0
            for b in bytes {
                if inString {
                    if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                } else if b == UInt8(ascii: "\"") {
                    inString = true
                } else if b == UInt8(ascii: ",") || b == UInt8(ascii: "[") || b == UInt8(ascii: "{") {
                    count += 1
                }
            }
            return count
        }
    }

    /// The `added_tokens` entries, each with an id inside the vocabulary, given to no other
    /// added token, and naming the token `model.vocab` gives that id.
    private static func addedTokens(_ list: JSONValue?, vocab: [String: JSONValue], file: String) throws -> [(id: Int32, text: String, special: Bool)] {
        guard let list, list != .null else { return [] }
        guard let entries = list.arrayValue else { throw TokenizerError("\(file): added_tokens is not an array") }
        var seen: [Int64: Int] = [:]
        return try entries.enumerated().map { n, added in
            let field = "added_tokens[\(n)]"
            guard let id = added["id"]?.intValue, let text = added["content"]?.stringValue else {
                throw TokenizerError("\(file): \(field) needs an integer id and a string content")
            }
            guard id >= 0, id < vocab.count else {
                throw TokenizerError("\(file): \(field).id \(id) is outside the vocabulary 0..<\(vocab.count)")
            }
            if let earlier = seen.updateValue(n, forKey: id) {
                throw TokenizerError("\(file): \(field).id \(id) is also the id of added_tokens[\(earlier)]")
            }
            guard vocab[text]?.intValue == id else {
                throw TokenizerError("\(file): \(field) \(JSONValue.string(text).canonicalJSON) has id \(id), but model.vocab gives it \(vocab[text]?.canonicalJSON ?? "no id")")
            }
            return (Int32(id), text, added["special"]?.boolValue == true)
        }
    }
}

import Foundation
import PipeKit

/// Reads and writes Hugging Face `tokenizer.json` for byte-level BPE: a ByteLevel
/// pre-tokenizer (GPT-2 regex, no prefix space), ByteLevel decoder, BPE model with merges
/// written as `"a b"` strings (the pair form breaks `tokenizers` < 0.20), special tokens as
/// added tokens.
enum TokenizerFile {
    static func write(_ model: BPEModel, to url: URL) throws {
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
    static func writeConfig(_ model: BPEModel, endOfText: String?, to url: URL) throws {
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

    /// Reads a byte-level BPE `tokenizer.json`.
    static func read(_ url: URL) throws -> BPEModel {
        let json = try JSONValue.parse(Data(contentsOf: url))
        let where_ = url.lastPathComponent
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
        var specials: [(id: Int32, text: String)] = []
        for added in json["added_tokens"]?.arrayValue ?? [] {
            guard let id = added["id"]?.intValue, let text = added["content"]?.stringValue else { continue }
            if added["special"]?.boolValue == true { specials.append((Int32(id), text)) }
        }
        let specialTexts = Set(specials.map(\.text))
        var ids: [String: Int32] = [:]
        for (text, value) in vocab {
            guard let id = value.intValue, id >= 0, Int(id) < tokens.count else {
                throw TokenizerError("\(where_): vocab ids must be 0..<\(vocab.count)")
            }
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
        if tokens.contains(where: { $0 == nil }) { throw TokenizerError("\(where_): vocab ids have gaps") }
        let all = tokens.map { $0! }
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
}

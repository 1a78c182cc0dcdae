import ArgumentParser
import BPETokenizer
import Foundation
import PipeKit

/// The `-t/--tokenizer` option of the tokenizer commands.
struct TokenizerOption: ParsableArguments {
    @Option(name: .shortAndLong, help: "A tokenizer.json, or a folder holding one (e.g. out/model-hf/).")
    var tokenizer: String

    func load() throws -> Tokenizer {
        guard FileManager.default.fileExists(atPath: tokenizer) else { throw UsageError("no tokenizer at '\(tokenizer)'") }
        do {
            return try Tokenizer(contentsOf: URL(fileURLWithPath: tokenizer))
        } catch {
            throw UsageError("\(tokenizer): \(error)")
        }
    }
}

/// `pipe encode`: text to token ids with a `tokenizer.json`.
struct EncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode", abstract: "Encode text (an argument, or standard input) into token ids.")

    @OptionGroup var tokenizer: TokenizerOption

    @Argument(help: "The text (default: standard input).")
    var text: String?

    @Flag(help: "Show each token's piece beside its id.")
    var pieces = false

    @Flag(help: "Print JSON: {\"ids\": […], \"pieces\": […]}.")
    var json = false

    func run() throws {
        let loaded = try tokenizer.load()
        let input = text ?? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        let ids = loaded.encode(input)
        if json {
            printJSON(.object(["ids": .array(ids.map { .int(Int64($0)) }), "pieces": .array(ids.map { .string(loaded.piece($0)) })]))
        } else if pieces {
            for id in ids { print("\(id)\t\(JSONValue.string(loaded.piece(id)).canonicalJSON)") }
        } else {
            print(ids.map(String.init).joined(separator: " "))
        }
    }
}

/// `pipe decode`: token ids back to text.
struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode", abstract: "Decode token ids (arguments, or whitespace-separated on standard input) into text.")

    @OptionGroup var tokenizer: TokenizerOption

    @Argument(help: "Token ids (default: standard input).")
    var ids: [String] = []

    func run() throws {
        let loaded = try tokenizer.load()
        let words = ids.isEmpty
            ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self).split(whereSeparator: { $0.isWhitespace }).map(String.init)
            : ids
        // Every bad id is the same kind of mistake, answered the same way (exit 2).
        let parsed = try words.map { word -> Int32 in
            guard let id = Int32(word) else { throw UsageError("'\(word)' is not a token id") }
            guard id >= 0, Int(id) < loaded.vocabularySize else {
                throw UsageError("token id \(id) is outside the vocabulary (0..<\(loaded.vocabularySize))")
            }
            return id
        }
        print(try loaded.decode(parsed), terminator: "")
    }
}

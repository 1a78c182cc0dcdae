import Foundation
import PipeKit

/// The state of one collect run: the writer, limits, sampling and counters.
struct Collector {
    let params: CollectStage.Params
    let writer: DocumentsWriter
    let context: StageContext
    private var skippedLarge = 0
    private var invalidUTF8 = 0
    private var droppedInvalid = 0
    private var sampledOut = 0
    private var filesRead = 0
    private var skippedURLs = 0
    private var perSource: [String: Int] = [:]
    private(set) var limitReached = false

    init(params: CollectStage.Params, writer: DocumentsWriter, context: StageContext) {
        self.params = params
        self.writer = writer
        self.context = context
    }

    /// Reads every file of a source (or only those at the relative `paths`, for one shard).
    mutating func collect(_ source: CollectStage.Source, only paths: Set<String>? = nil) throws {
        let files = try Self.files(of: source, workspace: context.workspace).filter { paths?.contains($0.1) ?? true }
        let name = source.name.isEmpty ? source.path : source.name
        for (n, (url, relative)) in files.enumerated() {
            try context.checkCancellation()
            try read(url, relative: relative, source: source, name: name)
            filesRead += 1
            context.progress(nil, "\(name): file \(n + 1)/\(files.count), \(writer.count) documents")
            if limitReached { return }
        }
    }

    /// The files of a files source, resolved against the workspace.
    static func files(of source: CollectStage.Source, workspace: URL) throws -> [(URL, String)] {
        let root = source.path.hasPrefix("/") ? URL(fileURLWithPath: source.path) : workspace.appendingPathComponent(source.path)
        return try files(root, include: source.include, exclude: source.exclude, path: source.path)
    }

    /// The files of a source: the file itself, or the folder's files matching the globs, sorted.
    static func files(_ root: URL, include: [String], exclude: [String], path: String) throws -> [(URL, String)] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory) else {
            throw StageError("source path '\(path)' does not exist")
        }
        guard isDirectory.boolValue else { return [(root, root.lastPathComponent)] }
        var result: [(URL, String)] = []
        guard let walker = FileManager.default.enumerator(atPath: root.path) else { return [] }
        while let relative = walker.nextObject() as? String {
            let url = root.appendingPathComponent(relative)
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), !isDir.boolValue else { continue }
            if !include.isEmpty, !include.contains(where: { GlobPattern($0).matches(relative) }) { continue }
            if exclude.contains(where: { GlobPattern($0).matches(relative) }) { continue }
            result.append((url, relative))
        }
        return result.sorted { $0.1 < $1.1 }
    }

    /// The format of a file from its extension, after `.gz` / `.zst`.
    static func format(of url: URL, declared: String) -> String {
        if declared != "auto" { return declared }
        var name = url.lastPathComponent.lowercased()
        for suffix in [".gz", ".gzip", ".zst", ".zstd"] where name.hasSuffix(suffix) { name.removeLast(suffix.count) }
        switch (name as NSString).pathExtension {
        case "md", "markdown", "rst": return "markdown"
        case "html", "htm", "xhtml": return "html"
        case "jsonl", "json", "ndjson": return "jsonl"
        case "warc", "wet": return "warc"
        default: return "text"
        }
    }

    private mutating func read(_ url: URL, relative: String, source: CollectStage.Source, name: String) throws {
        let format = Self.format(of: url, declared: source.format)
        var base: [String: JSONValue] = ["path": .string(relative), "format": .string(format)]
        if let license = source.license { base["license"] = .string(license) }
        switch format {
        case "jsonl":
            var lines = LineReader(try openStream(url))
            var number = 0
            var text: [UInt8] = [], id: [UInt8] = []
            let textKey = Array(source.text_field.utf8), idKey = source.id_field.map { Array($0.utf8) }
            while try lines.next({ line in
                number += 1
                text.removeAll(keepingCapacity: true)
                id.removeAll(keepingCapacity: true)
                guard !line.isEmpty, !line.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) else { return }
                let found = textKey.withUnsafeBufferPointer { JSONLineScanner.stringField($0, in: line, into: &text) }
                guard found else {
                    throw StageError("\(relative):\(number): no string field '\(source.text_field)'")
                }
                if let idKey { _ = idKey.withUnsafeBufferPointer { JSONLineScanner.stringField($0, in: line, into: &id) } }
            }) {
                if limitReached { return }
                if text.isEmpty { continue }
                var meta = base
                meta["offset"] = .int(Int64(lines.offset))
                let docId = id.isEmpty ? "\(name)/\(relative):\(number)" : String(decoding: id, as: UTF8.self)
                try emit(text, id: docId, source: name, meta: meta)
            }
        case "delimited":
            var lines = LineReader(try openStream(url))
            let delimiter = Array(source.delimiter.utf8)
            var record: [UInt8] = [], current: [UInt8] = []
            var recordOffset = 0, index = 0
            func flush(_ collector: inout Collector) throws {
                while record.last == 0x0A || record.last == 0x0D { record.removeLast() }
                if !record.isEmpty {
                    var meta = base
                    meta["offset"] = .int(Int64(recordOffset))
                    try collector.emit(record, id: "\(name)/\(relative)#\(index)", source: name, meta: meta)
                    index += 1
                }
                record.removeAll(keepingCapacity: true)
            }
            while try lines.next({ current = Array($0) }) {
                let body = current.last == 0x0D ? current.dropLast() : current[...]
                if body.elementsEqual(delimiter) {
                    try flush(&self)
                    if limitReached { return }
                    continue
                }
                if record.isEmpty { recordOffset = lines.offset }
                record.append(contentsOf: current)
                record.append(0x0A)
            }
            try flush(&self)
        case "warc":
            var reader = WARCReader(try openStream(url), path: relative)
            while let record = try reader.next() {
                var meta = base
                meta["offset"] = .int(Int64(record.offset))
                meta["format"] = .string(record.format)
                if let uri = record.uri { meta["url"] = .string(uri) }
                try emit(record.body, id: record.uri ?? "\(name)/\(relative)@\(record.offset)", source: name, meta: meta)
                if limitReached { return }
            }
        default:
            var stream = try openStream(url)
            var bytes: [UInt8] = []
            while try stream.read(into: &bytes, limit: 1 << 20) > 0 {
                if bytes.count > params.max_file_bytes {
                    skippedLarge += 1
                    context.log("skipped \(relative): larger than max_file_bytes (\(params.max_file_bytes))")
                    return
                }
            }
            if !bytes.isEmpty { try emit(bytes, id: "\(name)/\(relative)", source: name, meta: base) }
        }
    }

    /// Fetches a urls source, a window at a time, writing documents in URL order.
    mutating func fetch(_ source: CollectStage.Source) async throws {
        var urls = source.urls
        if let file = source.url_file {
            let url = file.hasPrefix("/") ? URL(fileURLWithPath: file) : context.workspace.appendingPathComponent(file)
            let text = try String(contentsOf: url, encoding: .utf8)
            urls += text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        }
        let name = source.name.isEmpty ? "urls" : source.name
        let fetcher = WebFetcher(source: source, maxBytes: params.max_file_bytes)
        let window = max(1, source.concurrency) * 4
        var skipped = 0
        for start in stride(from: 0, to: urls.count, by: window) {
            try context.checkCancellation()
            let batch = Array(urls[start..<min(urls.count, start + window)])
            let outcomes = await withTaskGroup(of: (Int, FetchOutcome).self) { group -> [FetchOutcome?] in
                var results = [FetchOutcome?](repeating: nil, count: batch.count)
                var next = 0
                func launch() {
                    let index = next, url = batch[index]
                    group.addTask { (index, await fetcher.fetch(url)) }
                    next += 1
                }
                while next < min(source.concurrency, batch.count) { launch() }
                while let (index, outcome) = await group.next() {
                    results[index] = outcome
                    if next < batch.count { launch() }
                }
                return results
            }
            for (offset, outcome) in outcomes.enumerated() {
                let url = batch[offset]
                switch outcome! {
                case .document(let body, let format, let status):
                    var meta: [String: JSONValue] = ["url": .string(url), "format": .string(format), "status": .int(Int64(status))]
                    if let license = source.license { meta["license"] = .string(license) }
                    try emit(body, id: url, source: name, meta: meta)
                case .skipped(let reason):
                    skipped += 1
                    context.log("skipped \(url): \(reason)")
                }
                if limitReached { return }
            }
            context.progress(Double(min(urls.count, start + window)) / Double(max(1, urls.count)),
                             "\(name): \(min(urls.count, start + window))/\(urls.count) URLs")
        }
        filesRead += urls.count - skipped
        skippedURLs += skipped
    }

    /// Applies the UTF-8 policy, sampling and limits, then writes the document.
    private mutating func emit(_ raw: [UInt8], id: String, source: String, meta: [String: JSONValue]) throws {
        guard !limitReached else { return }
        var text = raw
        if String(validating: raw, as: UTF8.self) == nil {
            invalidUTF8 += 1
            switch params.invalid_utf8 {
            case "skip":
                droppedInvalid += 1
                return
            case "latin-1":
                text = Array(String(raw.map { Character(Unicode.Scalar($0)) }).utf8)
            default:
                text = Array(String(decoding: raw, as: UTF8.self).utf8)
            }
        }
        if params.sample < 1 {
            var rng = SplitMix64.keyed(id, seed: UInt64(bitPattern: Int64(params.seed)))
            if rng.nextUnit() >= params.sample {
                sampledOut += 1
                return
            }
        }
        try text.withUnsafeBufferPointer { try writer.write(id: id, text: $0, source: source, meta: .object(meta)) }
        perSource[source, default: 0] += 1
        if let m = params.max_documents, writer.count >= m { limitReached = true }
        if let m = params.max_bytes, writer.textBytes >= m { limitReached = true }
    }

    mutating func finish() throws {
        try writer.close()
        guard writer.count > 0 else { throw StageError("no documents collected from \(filesRead) file(s)") }
        report()
    }

    /// Closes one shard's piece, which may be empty (all its documents sampled out).
    mutating func finishPiece() throws {
        try writer.close()
        report()
    }

    private func report() {
        context.metric("collect.documents", Double(writer.count))
        context.metric("collect.bytes", Double(writer.textBytes))
        context.metric("collect.files", Double(filesRead))
        context.metric("collect.invalid_utf8", Double(invalidUTF8))
        context.metric("collect.skipped_invalid_utf8", Double(droppedInvalid))
        context.metric("collect.skipped_large", Double(skippedLarge))
        context.metric("collect.sampled_out", Double(sampledOut))
        context.metric("collect.skipped_urls", Double(skippedURLs))
        for (source, count) in perSource.sorted(by: { $0.key < $1.key }) {
            context.log("\(source): \(count) documents")
        }
        context.log("collected \(writer.count) documents (\(writer.textBytes) bytes) from \(filesRead) files into \(writer.shards) shard(s)"
            + (invalidUTF8 > 0 ? "; \(invalidUTF8) had invalid UTF-8 (\(params.invalid_utf8))" : "")
            + (limitReached ? "; stopped at the document or byte limit" : ""))
    }
}

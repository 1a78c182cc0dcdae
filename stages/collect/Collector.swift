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
    private var skippedLargeRecords = 0
    private var corruptFiles = 0
    private var skippedSpecial = 0
    private var skippedLinks = 0
    private var perSource: [String: Int] = [:]
    private(set) var limitReached = false

    init(params: CollectStage.Params, writer: DocumentsWriter, context: StageContext) {
        self.params = params
        self.writer = writer
        self.context = context
    }

    /// Reads every file of a source (or only those at the relative `paths`, for one shard).
    /// A whole source's entries that are not read (not regular files, links out of the folder)
    /// are counted and warned about; one shard's are not (`shards` warned when listing them).
    mutating func collect(_ source: CollectStage.Source, only paths: Set<String>? = nil) throws {
        let listing = try Self.files(of: source, workspace: context.workspace)
        let files = listing.files.filter { paths?.contains($0.1) ?? true }
        let name = source.name.isEmpty ? source.path : source.name
        if paths == nil {
            skippedSpecial += listing.special.count
            skippedLinks += listing.outsideLinks.count
            listing.warn(source: name, context)
        }
        for (n, (url, relative)) in files.enumerated() {
            try context.checkCancellation()
            try readUnlessCorrupt(FileInfo(url: url, relative: relative, source: source, name: name))
            filesRead += 1
            context.progress(nil, "\(name): file \(n + 1)/\(files.count), \(writer.count) documents")
            if limitReached { return }
        }
    }

    /// The files of a files source, resolved against the workspace.
    static func files(of source: CollectStage.Source, workspace: URL) throws -> FolderListing {
        let root = source.path.hasPrefix("/") ? URL(fileURLWithPath: source.path) : workspace.appendingPathComponent(source.path)
        return try FolderListing(root, path: source.path, include: source.include, exclude: source.exclude,
                                 followSymlinks: source.follow_symlinks)
    }

    /// The format of a file from its extension, after `.gz` / `.zst`.
    static func format(of url: URL, declared: CollectStage.SourceFormat) -> CollectStage.SourceFormat {
        if declared != .auto { return declared }
        var name = url.lastPathComponent.lowercased()
        for suffix in [".gz", ".gzip", ".zst", ".zstd"] where name.hasSuffix(suffix) { name.removeLast(suffix.count) }
        switch (name as NSString).pathExtension {
        case "md", "markdown", "rst": return .markdown
        case "html", "htm", "xhtml": return .html
        case "jsonl", "json", "ndjson": return .jsonl
        case "warc", "wet": return .warc
        default: return .text
        }
    }

    /// Reads one file; damage found in it fails the run, or under `on_corrupt: skip` ends the
    /// file there (documents already read from it are kept) and is counted.
    private mutating func readUnlessCorrupt(_ file: FileInfo) throws {
        do {
            switch file.format {
            case .jsonl: try readJSONL(file)
            case .delimited: try readDelimited(file)
            case .warc: try readWARC(file)
            case .auto, .text, .markdown, .html: try readWhole(file)
            }
        } catch let damage as CorruptInput {
            guard params.on_corrupt == .skip else { throw StageError(damage.description) }
            corruptFiles += 1
            context.log("skipped the rest of \(file.relative): \(damage)")
        }
    }

    /// Counts a record longer than `max_record_bytes` at `location`, or fails the run under
    /// `on_large_record: fail`.
    private mutating func oversized(_ location: String, bytes: Int) throws {
        let message = "\(location): record of \(bytes) bytes is larger than max_record_bytes (\(params.max_record_bytes))"
        guard params.on_large_record == .skip else { throw StageError(message) }
        skippedLargeRecords += 1
        context.log("skipped " + message)
    }

    /// A file being read, with what every document from it records.
    private struct FileInfo {
        let url: URL
        let relative: String
        let source: CollectStage.Source
        /// The source's name on documents.
        let name: String
        let format: CollectStage.SourceFormat
        /// Meta fields of every document: path, format, license.
        let meta: [String: JSONValue]

        init(url: URL, relative: String, source: CollectStage.Source, name: String) {
            (self.url, self.relative, self.source, self.name) = (url, relative, source, name)
            format = Collector.format(of: url, declared: source.format)
            var meta: [String: JSONValue] = ["path": .string(relative), "format": .string(format.rawValue)]
            if let license = source.license { meta["license"] = .string(license) }
            self.meta = meta
        }
    }

    /// One document per JSON line with a string `text_field`; blank lines are passed over.
    private mutating func readJSONL(_ file: FileInfo) throws {
        var lines = BufferedReader(try openStream(file.url))
        var number = 0
        var text: [UInt8] = [], id: [UInt8] = []
        let textKey = Array(file.source.text_field.utf8), idKey = file.source.id_field.map { Array($0.utf8) }
        while true {
            let offset = lines.position
            number += 1
            text.removeAll(keepingCapacity: true)
            id.removeAll(keepingCapacity: true)
            guard let found = try lines.line(limit: params.max_record_bytes, { line in
                guard !line.isEmpty, !line.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) else { return }
                let found = textKey.withUnsafeBufferPointer { JSONLineScanner.stringField($0, in: line, into: &text) }
                guard found else {
                    throw StageError("\(file.relative):\(number): no string field '\(file.source.text_field)'")
                }
                if let idKey { _ = idKey.withUnsafeBufferPointer { JSONLineScanner.stringField($0, in: line, into: &id) } }
            }) else { return }
            if case .oversized(let bytes) = found { try oversized("\(file.relative):\(number)", bytes: bytes) }
            if limitReached { return }
            if text.isEmpty { continue }
            var meta = file.meta
            meta["offset"] = .int(Int64(offset))
            let docId = id.isEmpty ? "\(file.name)/\(file.relative):\(number)" : String(decoding: id, as: UTF8.self)
            try emit(text, id: docId, source: file.name, meta: meta)
        }
    }

    /// Records separated by lines holding only the delimiter.
    private mutating func readDelimited(_ file: FileInfo) throws {
        var lines = BufferedReader(try openStream(file.url))
        let delimiter = Array(file.source.delimiter.utf8)
        var record = DelimitedRecord(maxBytes: params.max_record_bytes)
        var index = 0
        while true {
            let offset = lines.position
            var isDelimiter = false
            // Lines the record has no room for are measured, not kept; a delimiter always fits.
            guard let found = try lines.line(limit: max(record.room, delimiter.count + 1), { line in
                let body = line.last == 0x0D ? UnsafeBufferPointer(rebasing: line.dropLast()) : line
                isDelimiter = body.elementsEqual(delimiter)
                if !isDelimiter { record.append(line, at: offset) }
            }) else { break }
            if case .oversized(let bytes) = found { record.appendOversized(bytes, at: offset) }
            if isDelimiter {
                try flush(&record, index: &index, file)
                if limitReached { return }
            }
        }
        try flush(&record, index: &index, file)
    }

    /// Writes a finished delimited record (trailing line ends removed, nothing when blank), or
    /// reports it when it was too long.
    private mutating func flush(_ record: inout DelimitedRecord, index: inout Int, _ file: FileInfo) throws {
        defer { record = DelimitedRecord(maxBytes: params.max_record_bytes) }
        if let bytes = record.oversizedBytes {
            try oversized("\(file.relative)#\(index)", bytes: bytes)
            index += 1
            return
        }
        var text = record.text
        while text.last == 0x0A || text.last == 0x0D { text.removeLast() }
        guard !text.isEmpty else { return }
        var meta = file.meta
        meta["offset"] = .int(Int64(record.offset))
        try emit(text, id: "\(file.name)/\(file.relative)#\(index)", source: file.name, meta: meta)
        index += 1
    }

    /// The kept records of a WARC or WET file.
    private mutating func readWARC(_ file: FileInfo) throws {
        var reader = WARCReader(try openStream(file.url), path: file.relative, maxRecordBytes: params.max_record_bytes)
        while let entry = try reader.next() {
            switch entry {
            case .oversized(let offset, let bytes):
                try oversized("\(file.relative)@\(offset)", bytes: bytes)
            case .record(let record):
                var meta = file.meta
                meta["offset"] = .int(Int64(record.offset))
                meta["format"] = .string(record.format)
                if let uri = record.uri { meta["url"] = .string(uri) }
                try emit(record.body, id: record.uri ?? "\(file.name)/\(file.relative)@\(record.offset)", source: file.name, meta: meta)
            }
            if limitReached { return }
        }
    }

    /// The whole file as one document, unless it is larger than `max_file_bytes`.
    private mutating func readWhole(_ file: FileInfo) throws {
        var stream = try openStream(file.url)
        var bytes: [UInt8] = []
        while try stream.read(into: &bytes, limit: 1 << 20) > 0 {
            if bytes.count > params.max_file_bytes {
                skippedLarge += 1
                context.log("skipped \(file.relative): larger than max_file_bytes (\(params.max_file_bytes))")
                return
            }
        }
        if !bytes.isEmpty { try emit(bytes, id: "\(file.name)/\(file.relative)", source: file.name, meta: file.meta) }
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
            case .skip:
                droppedInvalid += 1
                return
            case .latin1:
                text = Array(String(raw.map { Character(Unicode.Scalar($0)) }).utf8)
            case .repair:
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
        context.metric("collect.skipped_large_records", Double(skippedLargeRecords))
        context.metric("collect.corrupt_files", Double(corruptFiles))
        context.metric("collect.skipped_special_files", Double(skippedSpecial))
        context.metric("collect.skipped_symlinks", Double(skippedLinks))
        if skippedLargeRecords > 0 {
            context.warn("skipped \(skippedLargeRecords) record(s) larger than max_record_bytes (\(params.max_record_bytes))")
        }
        if corruptFiles > 0 {
            context.warn("skipped the rest of \(corruptFiles) corrupt file(s) (on_corrupt: skip; documents before the damage were kept)")
        }
        for (source, count) in perSource.sorted(by: { $0.key < $1.key }) {
            context.log("\(source): \(count) documents")
        }
        context.log("collected \(writer.count) documents (\(writer.textBytes) bytes) from \(filesRead) files into \(writer.shards) shard(s)"
            + (invalidUTF8 > 0 ? "; \(invalidUTF8) had invalid UTF-8 (\(params.invalid_utf8.rawValue))" : "")
            + (limitReached ? "; stopped at the document or byte limit" : ""))
    }
}

// Benchmarks of the engine's hot paths: XXH3-128 hashing, storing files into the
// content-addressed zstd store, and reading them back with verification.
//
//   swift run -c release pipe-bench [--megabytes 256] [--runs 5] [--level 1]
//
// Data is synthetic text (Zipf-distributed words from a fixed vocabulary), so compression
// ratios resemble real corpora. Each figure is the median of --runs runs; peak RSS is printed.
import Foundation
import PipeEngine

struct Options {
    var megabytes = 256
    var runs = 5
    var level: Int32 = ObjectStore.defaultLevel
    init() {
        let args = CommandLine.arguments
        if let i = args.firstIndex(of: "--megabytes"), i + 1 < args.count { megabytes = Int(args[i + 1]) ?? megabytes }
        if let i = args.firstIndex(of: "--runs"), i + 1 < args.count { runs = Int(args[i + 1]) ?? runs }
        if let i = args.firstIndex(of: "--level"), i + 1 < args.count { level = Int32(args[i + 1]) ?? level }
    }
}

/// Deterministic text: words drawn with a Zipf-like distribution, lines of 5-20 words.
func syntheticText(bytes: Int) -> Data {
    var state: UInt64 = 0x9E3779B97F4A7C15
    func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
    let letters = Array("etaoinshrdlucmfwypvbgkjqxz".utf8)
    var vocabulary: [[UInt8]] = []
    for _ in 0..<20_000 {
        let length = 2 + Int(next() % 9)
        vocabulary.append((0..<length).map { _ in letters[Int(min(next() % 26, next() % 26))] })
    }
    var out = [UInt8]()
    out.reserveCapacity(bytes + 256)
    var wordsInLine = 0
    while out.count < bytes {
        // Zipf-ish: the minimum of uniforms skews toward frequent (low) ranks.
        let rank = Int(min(next() % 20_000, next() % 20_000, next() % 20_000))
        out.append(contentsOf: vocabulary[rank])
        wordsInLine += 1
        if wordsInLine >= 5 + Int(next() % 16) {
            out.append(0x0A)
            wordsInLine = 0
        } else {
            out.append(0x20)
        }
    }
    return Data(out.prefix(bytes))
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func time(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func peakRSSMegabytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

let options = Options()
let size = options.megabytes << 20
let root = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-bench-\(getpid())")
try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: root) }

print("generating \(options.megabytes) MiB of synthetic text…")
let text = syntheticText(bytes: size)
let shardCount = 8
let shardSize = size / shardCount
let shards = root.appendingPathComponent("shards")
try FileManager.default.createDirectory(at: shards, withIntermediateDirectories: true)
for i in 0..<shardCount {
    try text[(i * shardSize)..<((i + 1) * shardSize)].write(to: shards.appendingPathComponent(String(format: "part-%05d.txt", i)))
}
let mb = Double(size) / 1e6

// 1. Hashing, in memory.
let hashTimes = (0..<options.runs).map { _ in time { _ = Hasher128.hash(text) } }
print(String(format: "xxh3-128 hashing:           %7.2f GB/s (1 thread, in memory)", mb / 1000 / median(hashTimes)))

// 2. Storing: one thread over one file at a time, then all cores over the shards.
var storeOne: [Double] = [], storeAll: [Double] = [], readOne: [Double] = []
var stored: Int64 = 0
let threads = ProcessInfo.processInfo.activeProcessorCount
for _ in 0..<options.runs {
    let cache = Cache(root: root.appendingPathComponent("cache"), compressionLevel: options.level)
    storeOne.append(try time { _ = try ArtifactTree.ingest(folder: shards, store: cache.objects, threads: 1) })
    try? FileManager.default.removeItem(at: cache.root)
    let fresh = Cache(root: root.appendingPathComponent("cache"), compressionLevel: options.level)
    var tree: ArtifactTree!
    storeAll.append(try time { tree = try ArtifactTree.ingest(folder: shards, store: fresh.objects, threads: threads) })
    stored = tree.storedSize
    readOne.append(try time {
        for f in tree.files { try fresh.objects.read(f.blob) { _ in } }
    })
    try? FileManager.default.removeItem(at: fresh.root)
}
print(String(format: "store (hash + zstd-%d + fsync): %6.0f MB/s on 1 thread, %4.0f MB/s on %d threads (ratio %.2f)",
             options.level, mb / median(storeOne), mb / median(storeAll), threads, Double(size) / Double(stored)))
print(String(format: "read (unzstd + verify hash):   %6.0f MB/s on 1 thread", mb / median(readOne)))
print(String(format: "peak RSS: %.0f MiB (the %d MiB corpus is held in memory by the benchmark itself)", peakRSSMegabytes(), options.megabytes))

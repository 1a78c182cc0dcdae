import Foundation

/// A per-process scratch folder for readers that take a path.
let fuzzScratch: URL = {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-fuzz-\(getpid())")
    do {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    } catch {
        fatalError("pipe-fuzz cannot create its scratch folder \(url.path): \(error)")
    }
    return url
}()

#if LIBFUZZER
// Built by fuzz/run with -sanitize=fuzzer: the entry point runs libFuzzer's driver, which calls
// LLVMFuzzerTestOneInput with each input. The target comes from PIPE_FUZZ_TARGET.
nonisolated(unsafe) var libFuzzerTarget: FuzzTarget = .manifest

@_silgen_name("LLVMFuzzerRunDriver")
func libFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// The executable's entry point (SwiftPM points `main` at `<module>_main`): hands control to
/// libFuzzer's driver with the target chosen by PIPE_FUZZ_TARGET.
@_cdecl("pipe_fuzz_main")
public func pipeFuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    chooseTarget()
    return libFuzzerRunDriver(&count, &arguments) { bytes, size in libFuzzerTestOneInput(bytes, size) }
}

func chooseTarget() {
    let name = ProcessInfo.processInfo.environment["PIPE_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(Data("PIPE_FUZZ_TARGET must be one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
        exit(2)
    }
    libFuzzerTarget = target
}

@_cdecl("LLVMFuzzerTestOneInput")
public func libFuzzerTestOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = bytes.map { Data(bytes: $0, count: count) } ?? Data()
    libFuzzerTarget.run(data, scratch: fuzzScratch)
    return 0
}
#else
/// `pipe-fuzz TARGET [--runs N] [--seed S] FILE|FOLDER...`: runs every corpus file through the
/// target, then N inputs mutated from them (bit flips, byte runs, interesting numbers, splices),
/// reproducibly from the seed. Without libFuzzer's coverage guidance this is a smoke test that a
/// normal build can run in CI; fuzz/run does the real fuzzing.
@main
struct FuzzReplay {
    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            fail("usage: pipe-fuzz TARGET [--runs N] [--seed S] FILE|FOLDER...  (targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        arguments.removeFirst()
        var runs = 0, seed: UInt64 = 1, paths: [String] = []
        while let argument = arguments.first {
            arguments.removeFirst()
            switch argument {
            case "--runs":
                guard let n = arguments.first.flatMap(Int.init) else { fail("--runs needs a number") }
                runs = n
                arguments.removeFirst()
            case "--seed":
                guard let n = arguments.first.flatMap(UInt64.init) else { fail("--seed needs a number") }
                seed = n
                arguments.removeFirst()
            default: paths.append(argument)
            }
        }
        let corpus = paths.flatMap(files)
        guard !corpus.isEmpty else { fail("no corpus files in \(paths)") }
        let started = Date()
        let inputs = corpus.map { file -> Data in
            guard let data = FileManager.default.contents(atPath: file.path) else { fail("cannot read the corpus file \(file.path)") }
            return data
        }
        for data in inputs { target.run(data, scratch: fuzzScratch) }
        var mutator = Mutator(seed: seed, corpus: inputs)
        for _ in 0..<runs { target.run(mutator.next(), scratch: fuzzScratch) }
        try? FileManager.default.removeItem(at: fuzzScratch)  // a temporary folder: what is left is harmless
        let seconds = Date().timeIntervalSince(started)
        print("\(target.rawValue): \(corpus.count) corpus files and \(runs) mutations in \(String(format: "%.1f", seconds)) s, no crash")
    }

    static func files(_ path: String) -> [URL] {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return [] }
        guard isDirectory.boolValue else { return [url] }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { fail("cannot list the corpus folder \(path)") }
        return names.sorted().filter { !$0.hasPrefix(".") }.map { url.appendingPathComponent($0) }
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(2)
    }
}
#endif

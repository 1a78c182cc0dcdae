// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "pipe",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "pipe", targets: ["pipe"]),
        .library(name: "PipeKit", targets: ["PipeKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // System-library shims (pkg-config).
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CXXHash", path: "Sources/CXXHash", pkgConfig: "libxxhash",
                       providers: [.apt(["libxxhash-dev"])]),
        .systemLibrary(name: "CLibXML2", path: "Sources/CLibXML2", pkgConfig: "libxml-2.0",
                       providers: [.apt(["libxml2-dev"])]),
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLibCurl", path: "Sources/CLibCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),

        // What every layer shares and nothing else: the user-facing error, a seeded generator,
        // the one atomic file write. The SDK re-exports it.
        .target(name: "Support"),

        // The plugin SDK: everything a stage may import.
        .target(name: "PipeKit", dependencies: ["Support"]),

        // Manifests, graph, keys, content-addressed store, scheduler, plugin runner, sweep driver.
        .target(name: "PipeEngine",
                dependencies: ["PipeKit", "Support", "Sweep", "CZstd", "CXXHash", .product(name: "Yams", package: "Yams")]),

        // Built-in stage kinds, one folder each under stages/.
        .target(name: "ObjectiveStage", dependencies: ["PipeKit"], path: "stages/objective"),
        // Byte-level BPE as Hugging Face's tokenizers defines it: tokenizer.json, pre-tokenizer,
        // merges, encoder. Used by the tokenize stage, evaluate, export and the CLI.
        .target(name: "BPETokenizer", dependencies: ["PipeKit"]),
        .target(name: "BPETokenizeStage", dependencies: ["PipeKit", "BPETokenizer"], path: "stages/bpe-tokenize"),
        // One HTTP GET over libcurl whose body callback runs on the transferring thread, so a
        // body is capped as it arrives (FoundationNetworking queues pieces with no backpressure).
        .target(name: "CCurlGet", dependencies: ["CLibCurl"]),
        .target(name: "CollectStage", dependencies: ["PipeKit", "CZlib", "CZstd", "CCurlGet"], path: "stages/collect"),
        // CLD2's C++ entry point behind a C function (Debian's libcld2-dev), and HTML to text over
        // libxml2 in C (its headers clash with Foundation's ICU when imported into Swift).
        .target(name: "CLD2Shim", linkerSettings: [.linkedLibrary("cld2")]),
        // A text's main language by CLD2, for clean's language filter and monitor's language mix.
        .target(name: "LanguageIdentification", dependencies: ["CLD2Shim"]),
        .target(name: "CHTMLText", dependencies: ["CLibXML2"]),
        // Runs of plain ASCII words found 32 bytes at a time (AVX2, chosen at run time).
        .target(name: "CTextScan", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "CleanStage", dependencies: ["PipeKit", "CHTMLText", "LanguageIdentification", "CTextScan"], path: "stages/clean",
                // The filters' per-worker scratch lives in a class; checking exclusive access on
                // every table update cost a fifth of the filter time.
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]),
        .target(name: "CMinHash", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "MinHashDedupStage", dependencies: ["PipeKit", "CMinHash", "CXXHash"], path: "stages/minhash-dedup"),

        // The transformer: kernels between the matrix products (C, compiled per CPU level), and the
        // model, its forward/backward passes, optimizer and files (Swift over BLAS).
        .target(name: "CTrainKernels",
                cSettings: [.unsafeFlags(["-O3", "-fno-math-errno", "-fassociative-math", "-fno-signed-zeros",
                                          "-fno-trapping-math", "-ffp-contract=fast"])]),
        .target(name: "Transformer", dependencies: ["Support", "CBLAS", "CTrainKernels"]),
        // Matrix products on GGUF-typed weights (f32, f16, Q8_0, Q4_0) for inference: portable C,
        // AVX2 and AVX-512 kernels in one target, each function compiled for its own CPU level
        // (target attributes) and picked at run time. No FMA contraction: quantizing activations
        // rounds x * (1 / d) exactly as ggml does, bit for bit.
        .target(name: "CInferenceKernels", cSettings: [.unsafeFlags(["-O3", "-fno-math-errno", "-ffp-contract=off"])]),
        // Inference on weights as stored (GGUF blocks used in place): batched forward passes, KV
        // caches per sequence, continuous batching over slots, sampling and scoring.
        .target(name: "Inference", dependencies: ["Support", "Transformer", "CInferenceKernels", "CTrainKernels", "CBLAS"]),
        // `pipe serve`: OpenAI's HTTP API (completions, chat, models, tokenize, health, metrics)
        // over the inference engine, on Hummingbird; auth, request ids and metrics as middleware.
        .target(name: "Serve", dependencies: ["Inference", "BPETokenizer", "Transformer", "PipeKit",
                                              .product(name: "Hummingbird", package: "hummingbird"),
                                              .product(name: "NIOCore", package: "swift-nio"),
                                              .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                                              .product(name: "HTTPTypes", package: "swift-http-types"),
                                              .product(name: "Logging", package: "swift-log"),
                                              .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]),
        // MPI data parallelism: Open MPI loaded with dlopen only under an MPI launcher, so
        // neither building nor running pipe on one machine needs MPI.
        .target(name: "CMPILoader", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "DataParallel", dependencies: ["Support", "CMPILoader"]),
        .target(name: "Training", dependencies: ["PipeKit", "Transformer", "DataParallel"]),
        .target(name: "TrainStage", dependencies: ["PipeKit", "Transformer", "Training"], path: "stages/train"),
        // A model's next-token loss over a token sequence with sliding windows (evaluate, monitor).
        .target(name: "TokenScoring", dependencies: ["PipeKit", "Transformer"]),
        .target(name: "EvaluateStage", dependencies: ["PipeKit", "Transformer", "TokenScoring", "Inference", "BPETokenizer"], path: "stages/evaluate"),
        // Drift of current documents from reference documents, with the model's tokenizer and model.
        .target(name: "MonitorStage", dependencies: ["PipeKit", "Transformer", "TokenScoring", "BPETokenizer", "LanguageIdentification"],
                path: "stages/monitor"),
        .target(name: "PruneStage", dependencies: ["PipeKit", "Transformer", "Training"], path: "stages/prune"),
        .target(name: "DistillStage", dependencies: ["PipeKit", "Transformer", "Training"], path: "stages/distill"),
        .target(name: "QuantizeStage", dependencies: ["PipeKit", "Transformer"], path: "stages/quantize"),
        .target(name: "ExportStage", dependencies: ["PipeKit", "Transformer", "BPETokenizer"], path: "stages/export"),
        // Labelled examples: read and split (prepare-examples), learned (finetune).
        .target(name: "PrepareExamplesStage", dependencies: ["PipeKit"], path: "stages/prepare-examples"),
        // Aliases: a model promoted when its decision passes (promote).
        .target(name: "PromoteStage", dependencies: ["PipeKit"], path: "stages/promote"),
        // Champion against challenger on old and fresh tokens (compare).
        .target(name: "CompareStage", dependencies: ["PipeKit", "Transformer", "TokenScoring", "BPETokenizer"], path: "stages/compare"),
        .target(name: "FinetuneStage", dependencies: ["PipeKit", "Transformer", "Training", "BPETokenizer"], path: "stages/finetune"),

        // The registry of the stage kinds compiled into pipe.
        .target(name: "BuiltinStages",
                dependencies: ["PipeEngine", "ObjectiveStage", "BPETokenizeStage", "CollectStage", "CleanStage", "MinHashDedupStage",
                               "TrainStage", "EvaluateStage", "QuantizeStage", "ExportStage", "PruneStage", "DistillStage",
                               "PrepareExamplesStage", "FinetuneStage", "PromoteStage", "MonitorStage", "CompareStage"]),

        // Hyperparameter search as pure decisions over trial records: search spaces, samplers
        // (grid, random, TPE) and pruners (median, ASHA). The sweep driver runs them.
        .target(name: "Sweep", dependencies: ["PipeKit", "Support"]),

        // The command-line tool.
        .executableTarget(name: "pipe",
                          dependencies: ["PipeEngine", "BuiltinStages", "Sweep", "BPETokenizer", "Transformer", "Inference", "Serve",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        // Fuzz targets over every reader of outside data (fuzz/README.md): a corpus replayer and
        // mutator in a normal build, libFuzzer's entry point when built by fuzz/run.
        .executableTarget(name: "pipe-fuzz",
                          dependencies: ["PipeEngine", "PipeKit", "BuiltinStages", "Transformer", "BPETokenizer", "CollectStage"],
                          path: "fuzz/pipe-fuzz"),

        // Benchmarks of the engine's hot paths (release builds: `swift run -c release pipe-bench`).
        .executableTarget(name: "pipe-bench", dependencies: ["PipeEngine"], path: "bench/pipe-bench"),
        .executableTarget(name: "train-bench", dependencies: ["Transformer", "CBLAS"], path: "bench/train-bench"),
        // Test functions for samplers (Branin, Hartmann 6-D, a training-like one): the sweep bench and SweepTests.
        .target(name: "SweepObjectives", dependencies: ["Sweep", "PipeKit"], path: "bench/sweep-objectives"),
        .executableTarget(name: "sweep-bench", dependencies: ["Sweep", "SweepObjectives", "PipeKit"], path: "bench/sweep-bench"),

        .testTarget(name: "PipeKitTests", dependencies: ["PipeKit"]),
        .testTarget(name: "SweepTests", dependencies: ["Sweep", "SweepObjectives", "PipeKit"]),
        .testTarget(name: "TransformerTests", dependencies: ["Transformer", "PipeKit", "Training"]),
        .testTarget(name: "InferenceKernelTests", dependencies: ["CInferenceKernels", "Transformer"]),
        .testTarget(name: "InferenceTests", dependencies: ["Inference", "Transformer"]),
        .testTarget(name: "ServeTests", dependencies: ["Serve", "Inference", "Transformer", "BPETokenizer"]),
        .testTarget(name: "PipeEngineTests", dependencies: ["PipeEngine"]),
        .testTarget(name: "StageTests", dependencies: ["PipeEngine", "BuiltinStages", "ObjectiveStage", "BPETokenizer", "BPETokenizeStage", "CollectStage", "CleanStage", "CTextScan", "MinHashDedupStage", "CMinHash", "TrainStage", "EvaluateStage", "QuantizeStage", "ExportStage", "PruneStage", "DistillStage", "PrepareExamplesStage", "FinetuneStage", "PromoteStage", "MonitorStage", "CompareStage", "LanguageIdentification", "Training"]),
        .testTarget(name: "EndToEndTests", dependencies: ["PipeKit", "Transformer", "BPETokenizer"]),
    ]
)

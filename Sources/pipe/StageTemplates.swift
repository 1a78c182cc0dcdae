/// The files `pipe new-stage` writes: a working documents filter in each language.
enum StageTemplates {
    enum Language: String, CaseIterable {
        case python, shell, swift
    }

    /// Relative path -> contents, and which files are executable.
    static func files(name: String, language: Language, sdkPath: String) -> [(path: String, text: String, executable: Bool)] {
        switch language {
        case .python:
            return [("stage.yaml", pythonStage(name), false), ("main.py", pythonMain(name), false), ("README.md", readme(name, language), false)]
        case .shell:
            return [("stage.yaml", shellStage(name), false), ("run.sh", shellMain(name), true), ("README.md", readme(name, language), false)]
        case .swift:
            return [("stage.yaml", swiftStage(name), false), ("Package.swift", swiftPackage(name, sdkPath: sdkPath), false),
                    ("Sources/\(name)/main.swift", swiftMain(name), false), ("README.md", readme(name, language), false)]
        }
    }

    /// A stage.yaml for a documents filter; the languages differ in what they run and declare.
    static func stageYAML(_ name: String, description: String, run: String, param: String, probe: String?) -> String {
        """
        name: \(name)
        version: 1
        description: \(description)
        run: \(run)
        inputs:
          documents: {kind: documents, doc: "JSONL shards to filter"}
        outputs:
          documents: {kind: documents, doc: "the documents kept, same shards"}
        params:
          \(param)

        """ + (probe.map { "probes:\n  - \($0)\n" } ?? "")
    }

    static func pythonStage(_ name: String) -> String {
        stageYAML(name, description: "Keeps the documents that keep() in main.py accepts.", run: "[python3, main.py]",
                  param: #"min_chars: {type: int, default: 1, doc: "Drop documents with fewer characters"}"#,
                  probe: "[python3, --version]")
    }

    static func pythonMain(_ name: String) -> String {
        """
        \"\"\"\(name): a pipe stage that keeps the documents keep() accepts, shard by shard.\"\"\"
        import json
        import os
        import pathlib


        def keep(doc, params):
            \"\"\"Return True to keep the document. doc has "id", "text" and optionally "source" and "meta".\"\"\"
            return len(doc["text"]) >= params["min_chars"]


        def main():
            request = json.load(open(os.environ["PIPE_REQUEST"], encoding="utf-8"))
            params = request["params"]
            source = pathlib.Path(request["inputs"]["documents"])
            target = pathlib.Path(request["outputs"]["documents"])
            shards = sorted(source.glob("part-*.jsonl"))
            kept = dropped = 0
            for n, shard in enumerate(shards):
                with open(shard, encoding="utf-8") as src, open(target / shard.name, "w", encoding="utf-8") as dst:
                    for line in src:
                        if keep(json.loads(line), params):
                            dst.write(line)
                            kept += 1
                        else:
                            dropped += 1
                print(f"::progress {(n + 1) / len(shards):.3f} shard {n + 1}/{len(shards)}", flush=True)
            print(f"::metric documents.kept {kept}")
            print(f"::metric documents.dropped {dropped}")


        if __name__ == "__main__":
            main()

        """
    }

    static func shellStage(_ name: String) -> String {
        stageYAML(name, description: "Keeps the documents whose JSON line matches a pattern (grep -E).", run: "[sh, run.sh]",
                  param: #"pattern: {type: string, default: ".", doc: "Extended regular expression a document's line must match"}"#,
                  probe: nil)
    }

    static func shellMain(_ name: String) -> String {
        """
        #!/bin/sh
        # \(name): keep the documents whose JSON line matches $PIPE_PARAM_PATTERN, shard by shard.
        # pipe sets PIPE_INPUT_<PORT>, PIPE_OUTPUT_<PORT> and PIPE_PARAM_<NAME>; see request.json for the rest.
        set -eu
        kept=0
        for shard in "$PIPE_INPUT_DOCUMENTS"/part-*.jsonl; do
          out="$PIPE_OUTPUT_DOCUMENTS/$(basename "$shard")"
          grep -E -e "$PIPE_PARAM_PATTERN" "$shard" > "$out" || true
          kept=$((kept + $(wc -l < "$out")))
        done
        echo "::metric documents.kept $kept"

        """
    }

    static func swiftStage(_ name: String) -> String {
        stageYAML(name, description: "Keeps the documents that keep() in Sources/\(name)/main.swift accepts.",
                  run: "[swift, run, -c, release, --quiet, \(name)]",
                  param: #"min_chars: {type: int, default: 1, doc: "Drop documents with fewer characters"}"#,
                  probe: "[swift, --version]")
    }

    static func swiftPackage(_ name: String, sdkPath: String) -> String {
        """
        // swift-tools-version:6.0
        import PackageDescription

        let package = Package(
            name: "\(name)",
            platforms: [.macOS(.v14)],
            dependencies: [.package(name: "pipe", path: "\(sdkPath)")],
            targets: [
                .executableTarget(name: "\(name)", dependencies: [.product(name: "PipeKit", package: "pipe")]),
            ]
        )

        """
    }

    static func swiftMain(_ name: String) -> String {
        """
        // \(name): a pipe stage that keeps the documents keep() accepts.
        import Foundation
        import PipeKit

        struct Params: Decodable {
            var min_chars: Int
        }

        /// Return true to keep the document.
        func keep(_ document: Document, _ params: Params) -> Bool {
            document.text.count >= params.min_chars
        }

        let request = try PluginRequest.load()
        let params = try request.params(as: Params.self)
        let writer = DocumentsWriter(folder: try request.output("documents"))
        var dropped = 0
        try DocumentsReader(folder: try request.input("documents")).forEach { document in
            if keep(document, params) { try writer.write(document) } else { dropped += 1 }
        }
        try writer.close()
        PluginRequest.metric("documents.kept", Double(writer.count))
        PluginRequest.metric("documents.dropped", Double(dropped))

        """
    }

    static func readme(_ name: String, _ language: Language) -> String {
        let code: String
        switch language {
        case .python: code = "`main.py` (edit `keep()`)"
        case .shell: code = "`run.sh`"
        case .swift: code = "`Sources/\(name)/main.swift` (edit `keep()`); the first run builds it with `swift run`"
        }
        return """
        # \(name)

        A pipe stage plugin (\(language.rawValue)). Its contract is `stage.yaml`; its code is \(code).

        Use it in a manifest:

        ```yaml
          \(name):
            uses: ./stages/\(name)
            inputs: {documents: some_stage.documents}
        ```

        pipe writes `request.json` (parameters, input and output folders, scratch, threads) and points
        `PIPE_REQUEST` at it; shell code can use `PIPE_PARAM_*`, `PIPE_INPUT_*` and `PIPE_OUTPUT_*`.
        Print `::progress 0.5 message` and `::metric name value` lines to report. Any change to the
        files in this folder makes the stage stale. See docs/plugins.md in the pipe repository.

        """
    }
}

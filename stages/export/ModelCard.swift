import Foundation
import PipeKit
import Transformer

/// The Hugging Face model card (`README.md`): what the model is for, what it was trained on
/// (sources, licences, counts), its shape and its measured quality.
struct ModelCard {
    let name: String
    let config: ModelConfig
    let objective: [String: Any]?
    let metrics: [String: Double]
    /// (source, licence) -> documents and bytes.
    let sources: [(source: String, license: String, documents: Int, bytes: Int)]
    let quantization: String?

    init(name: String, config: ModelConfig, quantizedFrom: GGUF.File?, context: StageContext) throws {
        self.name = name
        self.config = config
        objective = try context.optionalInput("objective").flatMap {
            try JSONSerialization.jsonObject(with: $0.read("objective.json")) as? [String: Any]
        }
        metrics = try context.optionalInput("metrics").map {
            (try JSONSerialization.jsonObject(with: $0.read("metrics.json")) as? [String: Any] ?? [:]).compactMapValues { $0 as? Double }
        } ?? [:]
        var counts: [String: (Int, Int)] = [:]
        if let documents = context.optionalInput("documents") {
            let folder = try documents.materialize(into: context.scratch.appendingPathComponent("documents"))
            try DocumentsReader(folder: folder).forEach { doc in
                var license = "unspecified"
                if case .object(let meta)? = doc.meta, case .string(let l)? = meta["license"] { license = l }
                let key = "\(doc.source ?? "unnamed")\u{0}\(license)"
                let (n, b) = counts[key] ?? (0, 0)
                counts[key] = (n + 1, b + doc.text.utf8.count)
            }
        }
        sources = counts.map { key, value in
            let parts = key.split(separator: "\u{0}", omittingEmptySubsequences: false).map(String.init)
            return (parts[0], parts[1], value.0, value.1)
        }.sorted { $0.source < $1.source }
        quantization = quantizedFrom.map { file in
            Dictionary(grouping: file.tensors.values, by: \.type.name).map { "\($0.value.count) tensors \($0.key)" }.sorted().joined(separator: ", ")
        }
    }

    var markdown: String {
        let languages = (objective?["languages"] as? [String]) ?? []
        let licenses = Set(sources.map(\.license)).sorted()
        var md = "---\n"
        md += "license: \(licenses.count == 1 && licenses[0] != "unspecified" ? licenses[0] : "other")\n"
        md += "library_name: transformers\npipeline_tag: text-generation\n"
        if !languages.isEmpty { md += "language:\n" + languages.map { "- \($0)\n" }.joined() }
        md += "tags:\n- pipe\n- llama\n---\n\n# \(name)\n\n"
        md += "A LLaMA-style decoder (\(config.parameterCount.formatted()) parameters) trained from raw text by a `pipe` pipeline.\n\n"
        if let o = objective {
            md += "## Objective\n\n"
            md += "- Task: \(o["task"] as? String ?? "text-generation")\n"
            if let domain = o["domain"] as? String, !domain.isEmpty { md += "- Domain: \(domain)\n" }
            if !languages.isEmpty { md += "- Languages: \(languages.joined(separator: ", "))\n" }
            if let targets = o["targets"] as? [String: Any], !targets.isEmpty {
                md += "- Targets (gate: \(o["gate"] as? String ?? "fail")):\n"
                for (metric, bound) in targets.sorted(by: { $0.key < $1.key }) {
                    let b = bound as? [String: Any] ?? [:]
                    let parts = [(b["min"] as? Double).map { "≥ \($0)" }, (b["max"] as? Double).map { "≤ \($0)" }].compactMap { $0 }
                    md += "  - `\(metric)` \(parts.joined(separator: " and "))\n"
                }
            }
            md += "\n"
        }
        md += "## Model\n\n| | |\n|---|---|\n"
        md += "| architecture | \(config.qkNorm ? "Qwen3ForCausalLM (LLaMA with QK-norm)" : "LlamaForCausalLM") |\n| layers | \(config.layers) |\n| hidden size | \(config.dim) |\n"
        md += "| attention heads | \(config.heads) (\(config.kvHeads) key/value) |\n| MLP size | \(config.ffnDim) |\n"
        md += "| context | \(config.context) tokens |\n| vocabulary | \(config.vocabSize) (byte-level BPE) |\n"
        md += "| tied embeddings | \(config.tieEmbeddings) |\n"
        if let q = quantization { md += "| weights | dequantized to f32 from a quantized model (\(q)) |\n" }
        md += "\n"
        if !sources.isEmpty {
            md += "## Training data\n\n| source | licence | documents | bytes |\n|---|---|---:|---:|\n"
            for s in sources { md += "| \(s.source) | \(s.license) | \(s.documents) | \(s.bytes) |\n" }
            md += "\n"
        }
        if !metrics.isEmpty {
            md += "## Evaluation\n\n| metric | value |\n|---|---:|\n"
            for (k, v) in metrics.sorted(by: { $0.key < $1.key }) { md += "| `\(k)` | \(String(format: "%.6g", v)) |\n" }
            md += "\n"
        }
        md += "## Use\n\n```python\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n"
        md += "model = AutoModelForCausalLM.from_pretrained(\"path/to/this/folder\")\n"
        md += "tokenizer = AutoTokenizer.from_pretrained(\"path/to/this/folder\")\n```\n"
        return md
    }
}

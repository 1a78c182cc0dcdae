/// The metric naming contract shared by stages that produce metrics and the objective that
/// sets targets on them: `<split>.<metric>`, `task.<name>.<metric>`, `train.<metric>`.
public enum MetricName {
    public static let splits = HeldOutSplit.allCases.map(\.rawValue)
    public static let splitMetrics = ["loss", "perplexity", "bits_per_byte", "top1", "top5"]
    public static let taskMetrics = ["accuracy", "acc_norm", "macro_f1", "exact_match", "majority_baseline", "rougeL", "bleu"]
    /// Per-class task metrics, named `task.<name>.<metric>.<label>`.
    public static let classMetrics = ["f1", "precision", "recall"]
    public static let trainMetrics = ["loss", "tokens_per_second", "seconds", "peak_memory_bytes", "parameters"]

    /// Nil when `name` follows the contract, else why not.
    public static func problem(with name: String) -> String? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 3, parts[0] == "task" {
            guard !parts[1].isEmpty else { return "task metrics are named task.<name>.<metric>" }
            return taskMetrics.contains(parts[2]) ? nil
                : "unknown task metric '\(parts[2])' (known: \(taskMetrics.joined(separator: ", ")))"
        }
        if parts.count == 4, parts[0] == "task" {
            guard !parts[1].isEmpty, !parts[3].isEmpty else { return "per-class task metrics are named task.<name>.<metric>.<label>" }
            return classMetrics.contains(parts[2]) ? nil
                : "unknown per-class task metric '\(parts[2])' (known: \(classMetrics.joined(separator: ", ")))"
        }
        if parts.count == 2, parts[0] == "train" {
            return trainMetrics.contains(parts[1]) ? nil
                : "unknown training metric '\(parts[1])' (known: \(trainMetrics.joined(separator: ", ")))"
        }
        if parts.count == 2, splits.contains(parts[0]) {
            return splitMetrics.contains(parts[1]) ? nil
                : "unknown metric '\(parts[1])' (known: \(splitMetrics.joined(separator: ", ")))"
        }
        return "metric names are <split>.<metric> (split: \(splits.joined(separator: ", "))), task.<name>.<metric>, task.<name>.<metric>.<label> or train.<metric>"
    }

    /// The range a metric's values can take, for spotting impossible targets.
    public static func range(of name: String) -> ClosedRange<Double> {
        let parts = name.split(separator: ".").map(String.init)
        let metric = parts.count == 4 && parts[0] == "task" ? parts[2] : parts.last ?? name
        switch metric {
        case "perplexity": return 1...Double.infinity
        case "top1", "top5", "accuracy", "acc_norm", "macro_f1", "exact_match", "majority_baseline", "rougeL", "f1", "precision", "recall":
            return 0...1
        case "bleu": return 0...100
        default: return 0...Double.infinity
        }
    }
}

/// A held-out token split that metrics are named after (`val.loss`, `test.bits_per_byte`).
public enum HeldOutSplit: String, ParamChoice {
    case val, test
}

/// The metric naming contract shared by stages that produce metrics and the objective that
/// sets targets on them: `<split>.<metric>`, `task.<name>.<metric>`, `train.<metric>`,
/// `drift.<metric>` and `drift.<side>.<measure>`.
public enum MetricName {
    public static let splits = HeldOutSplit.allCases.map(\.rawValue)
    public static let splitMetrics = ["loss", "perplexity", "bits_per_byte", "top1", "top5"]
    public static let taskMetrics = ["accuracy", "acc_norm", "macro_f1", "exact_match", "majority_baseline", "rougeL", "bleu"]
    /// Per-class task metrics, named `task.<name>.<metric>.<label>`.
    public static let classMetrics = ["f1", "precision", "recall"]
    public static let trainMetrics = ["loss", "tokens_per_second", "seconds", "peak_memory_bytes", "parameters"]
    /// The monitor's distances between current and reference documents (docs/maintenance.md).
    public static let driftMetrics = ["token_js", "token_psi", "tokens_per_byte_ratio", "bits_per_byte_delta", "bits_per_byte_delta_low",
                                      "bits_per_byte_delta_high", "length_wasserstein", "language_shift", "reject_rate_delta",
                                      "mean_logprob_delta", "mean_logprob_delta_low", "mean_logprob_delta_high", "length_stops_delta",
                                      "latency_p50_ratio", "latency_p90_ratio"]
    /// The sides the monitor compares (documents: reference and current; windows of served
    /// requests: earlier and current), and what it measures of each (`drift.current.bits_per_byte`).
    public static let driftSides = ["reference", "current", "earlier"]
    public static let driftSideMetrics = ["documents", "tokens", "bytes", "tokens_per_byte", "bits_per_byte", "reject_rate",
                                          "requests", "mean_logprob", "length_stops", "latency_ms_p50", "latency_ms_p90", "latency_ms_p99",
                                          "ttft_ms_p50", "ttft_ms_p90", "ttft_ms_p99"]

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
        if parts.count == 2, parts[0] == "drift" {
            return driftMetrics.contains(parts[1]) ? nil
                : "unknown drift metric '\(parts[1])' (known: \(driftMetrics.joined(separator: ", ")))"
        }
        if parts.count == 3, parts[0] == "drift" {
            guard driftSides.contains(parts[1]) else { return "per-side drift measures are named drift.<reference|current>.<measure>" }
            return driftSideMetrics.contains(parts[2]) ? nil
                : "unknown drift measure '\(parts[2])' (known: \(driftSideMetrics.joined(separator: ", ")))"
        }
        if parts.count == 2, splits.contains(parts[0]) {
            return splitMetrics.contains(parts[1]) ? nil
                : "unknown metric '\(parts[1])' (known: \(splitMetrics.joined(separator: ", ")))"
        }
        return "metric names are <split>.<metric> (split: \(splits.joined(separator: ", "))), task.<name>.<metric>, task.<name>.<metric>.<label>, train.<metric>, drift.<metric> or drift.<side>.<measure>"
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
        case "token_js", "language_shift", "reject_rate", "length_stops": return 0...1
        case "reject_rate_delta", "length_stops_delta": return -1...1
        case "mean_logprob": return -Double.infinity...0
        case "bits_per_byte_delta", "bits_per_byte_delta_low", "bits_per_byte_delta_high", "mean_logprob_delta", "mean_logprob_delta_low",
             "mean_logprob_delta_high":
            return -Double.infinity...Double.infinity
        default: return 0...Double.infinity
        }
    }
}

/// A held-out token split that metrics are named after (`val.loss`, `test.bits_per_byte`).
public enum HeldOutSplit: String, ParamChoice {
    case val, test
}

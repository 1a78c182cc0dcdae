import PipeKit

/// Builds the sampler and the pruner a manifest's sweep block names:
/// `sampler: {kind: grid | random | tpe, seed: 1, startup_trials: 10, candidates: 24, multivariate: true}`
/// and `prune: {kind: median, startup_trials: 5, warmup_steps: 0, interval_steps: 1}` or
/// `{kind: asha, min_resource: 1, reduction_factor: 3, min_early_stopping_rate: 0}`.
/// Errors name the field (`sweep.sampler.seed: expected an integer, found "one"`).
public enum SweepFactory {
    public static func sampler(parsing value: JSONValue, path: String, space: SearchSpace,
                               direction: Direction) throws -> any Sampler {
        var fields = try ConfigFields(value, path: path)
        let kind = try fields.string("kind")
        let sampler: any Sampler
        switch kind {
        case "grid":
            sampler = try GridSampler(space: space)
        case "random":
            sampler = RandomSampler(space: space, seed: try seed(&fields))
        case "tpe":
            sampler = TPESampler(space: space, direction: direction, seed: try seed(&fields),
                                 startupTrials: try fields.count("startup_trials", atLeast: 0, default: 10),
                                 candidates: try fields.count("candidates", atLeast: 1, default: 24),
                                 multivariate: try fields.bool("multivariate") ?? true)
        default:
            throw unknownKind(kind, fields, known: "grid, random, tpe")
        }
        try fields.finish()
        return sampler
    }

    public static func pruner(parsing value: JSONValue, path: String) throws -> any Pruner {
        var fields = try ConfigFields(value, path: path)
        let kind = try fields.string("kind")
        let pruner: any Pruner
        switch kind {
        case "median":
            pruner = MedianPruner(startupTrials: try fields.count("startup_trials", atLeast: 0, default: 5),
                                  warmupSteps: try fields.count("warmup_steps", atLeast: 0, default: 0),
                                  intervalSteps: try fields.count("interval_steps", atLeast: 1, default: 1))
        case "asha":
            pruner = ASHAPruner(minResource: try fields.count("min_resource", atLeast: 1, default: 1),
                                reductionFactor: try fields.count("reduction_factor", atLeast: 2, default: 3),
                                minEarlyStoppingRate: try fields.count("min_early_stopping_rate", atLeast: 0, default: 0))
        default:
            throw unknownKind(kind, fields, known: "median, asha")
        }
        try fields.finish()
        return pruner
    }

    /// `seed`, any 64-bit integer (0 when absent).
    private static func seed(_ fields: inout ConfigFields) throws -> UInt64 {
        UInt64(bitPattern: try fields.integer("seed") ?? 0)
    }

    private static func unknownKind(_ kind: String?, _ fields: ConfigFields, known: String) -> SweepConfigError {
        guard let kind else { return fields.missing("kind", known) }
        return SweepConfigError(field: fields.fieldPath("kind"), "unknown kind '\(kind)' (known: \(known))")
    }
}

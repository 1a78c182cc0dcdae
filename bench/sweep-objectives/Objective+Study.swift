import PipeKit
import Sweep

extension Objective {
    /// Runs `trials` trials one after another, each shown every earlier one: the params and
    /// value of each, in order.
    public func study(_ sampler: any Sampler, trials: Int) -> [TrialRecord] {
        var history: [TrialRecord] = []
        for number in 0..<trials {
            guard let params = sampler.suggest(number: number, history: history) else { break }
            history.append(TrialRecord(number: number, params: params, state: .complete, value: evaluate(params)))
        }
        return history
    }

    /// The best value after each trial.
    public static func bestSoFar(_ trials: [TrialRecord]) -> [Double] {
        var best = Double.infinity
        return trials.map { trial in
            best = min(best, trial.value!)
            return best
        }
    }
}

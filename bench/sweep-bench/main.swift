// Samplers on standard test functions, without the pipeline around them.
//
//   swift build -c release --product sweep-bench
//   .build/release/sweep-bench [--objectives branin,hartmann6,hyperparams] [--samplers tpe,tpe-independent,random]
//                              [--seeds 20] [--trials 100]
//   .build/release/sweep-bench --spaces
//
// Prints one JSON line per (objective, sampler, seed): the params and value of every trial, in
// order (seeds 0..<seeds). `--spaces` prints each objective's search space in `sweep.space` form
// instead, for bench/sweep_compare.py to give Optuna the same space.
import Foundation
import PipeKit
import Sweep
import SweepObjectives

var options: [String: String] = [:]
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    guard argument.hasPrefix("--") else { fatalError("unexpected argument \(argument)") }
    options[String(argument.dropFirst(2))] = argument == "--spaces" ? "" : arguments.popFirst()
}

if options["spaces"] != nil {
    print(JSONValue.object(Dictionary(uniqueKeysWithValues: Objective.all.map { ($0.name, $0.space) })).canonicalJSON)
    exit(0)
}

let objectives = (options["objectives"] ?? Objective.all.map(\.name).joined(separator: ",")).split(separator: ",").map { name in
    guard let objective = Objective.named(String(name)) else { fatalError("unknown objective \(name)") }
    return objective
}
let samplers = (options["samplers"] ?? "tpe,tpe-independent,random").split(separator: ",").map(String.init)
let seeds = Int(options["seeds"] ?? "20")!, trials = Int(options["trials"] ?? "100")!

func sampler(_ name: String, space: SearchSpace, seed: UInt64) -> any Sampler {
    switch name {
    case "tpe": return TPESampler(space: space, direction: .minimize, seed: seed)
    case "tpe-independent": return TPESampler(space: space, direction: .minimize, seed: seed, multivariate: false)
    case "random": return RandomSampler(space: space, seed: seed)
    default: fatalError("unknown sampler \(name)")
    }
}

for objective in objectives {
    let space = try SearchSpace(parsing: objective.space, path: "sweep.space")
    for name in samplers {
        for seed in 0..<seeds {
            let start = Date()
            let records = objective.study(sampler(name, space: space, seed: UInt64(seed)), trials: trials)
            let line: JSONValue = .object([
                "objective": .string(objective.name), "sampler": .string("pipe-\(name)"), "seed": .int(Int64(seed)),
                "seconds": .double(Date().timeIntervalSince(start)),
                "params": .array(records.map { .object($0.params) }),
                "values": .array(records.map { .double($0.value!) }),
            ])
            print(line.canonicalJSON)
        }
    }
}

/// Accuracy, per-class precision, recall and F1, macro-F1 and the confusion matrix of
/// predicted against true labels, as scikit-learn's `sklearn.metrics` defines them: macro-F1
/// averages over the labels that occur among the true or the predicted ones, and a ratio with
/// nothing to divide by (a label never predicted has no precision) counts as 0.
struct ClassificationScores {
    /// The labels, in a fixed order (rows and columns of the confusion matrix).
    let labels: [String]
    /// confusion[true][predicted]: how many examples of label `true` were predicted `predicted`.
    let confusion: [[Int]]

    init(labels: [String], truth: [String], predicted: [String]) {
        precondition(truth.count == predicted.count)
        self.labels = labels
        let index = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: labels.count), count: labels.count)
        for (t, p) in zip(truth, predicted) { confusion[index[t]!][index[p]!] += 1 }
        self.confusion = confusion
    }

    var count: Int { confusion.reduce(0) { $0 + $1.reduce(0, +) } }

    var accuracy: Double {
        count == 0 ? 0 : Double(labels.indices.reduce(0) { $0 + confusion[$1][$1] }) / Double(count)
    }

    /// Examples truly of label `i`, and predicted as it.
    private func support(_ i: Int) -> Int { confusion[i].reduce(0, +) }
    private func predictions(_ i: Int) -> Int { confusion.reduce(0) { $0 + $1[i] } }

    func precision(_ i: Int) -> Double { predictions(i) == 0 ? 0 : Double(confusion[i][i]) / Double(predictions(i)) }
    func recall(_ i: Int) -> Double { support(i) == 0 ? 0 : Double(confusion[i][i]) / Double(support(i)) }
    func f1(_ i: Int) -> Double {
        let p = precision(i), r = recall(i)
        return p + r == 0 ? 0 : 2 * p * r / (p + r)
    }

    var macroF1: Double {
        let present = labels.indices.filter { support($0) > 0 || predictions($0) > 0 }
        return present.isEmpty ? 0 : present.reduce(0.0) { $0 + f1($1) } / Double(present.count)
    }

    /// The accuracy of always answering the most frequent true label.
    var majorityBaseline: Double {
        count == 0 ? 0 : Double(labels.indices.map(support).max() ?? 0) / Double(count)
    }
}

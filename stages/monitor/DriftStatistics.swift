import Foundation

/// The distances between a reference sample and a current one that the monitor reports; each
/// is checked against scipy or numpy in `tests-python/drift_conformance.py`.
enum DriftStatistics {
    /// Jensen-Shannon divergence in bits (in [0, 1]) between the distributions that two count
    /// vectors over the same bins stand for, and each bin's share of it:
    /// `½ P log₂(P/M) + ½ Q log₂(Q/M)` with `M = (P + Q) / 2`. scipy's `jensenshannon(p, q, base=2)`
    /// is its square root (the distance). Nil when either side is empty.
    static func jensenShannon(_ reference: [Int], _ current: [Int]) -> (value: Double, terms: [Double])? {
        precondition(reference.count == current.count, "the same bins on both sides")
        let totalP = Double(reference.reduce(0, +)), totalQ = Double(current.reduce(0, +))
        guard totalP > 0, totalQ > 0 else { return nil }
        var terms = [Double](repeating: 0, count: reference.count)
        for i in reference.indices where reference[i] > 0 || current[i] > 0 {
            let p = Double(reference[i]) / totalP, q = Double(current[i]) / totalQ, m = (p + q) / 2
            terms[i] = 0.5 * ((p > 0 ? p * log2(p / m) : 0) + (q > 0 ? q * log2(q / m) : 0))
        }
        return (min(1, max(0, terms.reduce(0, +))), terms)
    }

    /// One bin of the population stability index.
    struct StabilityBin: Equatable {
        /// The token id, or nil for the bucket of all other tokens.
        var id: Int?
        var referenceShare: Double
        var currentShare: Double
        /// `(q − p) ln(q / p)` after empty shares become epsilon.
        var term: Double
    }

    /// Population stability index over the `k` most frequent reference ids (ties: lower id
    /// first; ids the reference never saw are never their own bin) plus one bin for all other
    /// ids: `Σ (q − p) ln(q / p)`, where a share of 0 on either side counts as `epsilon`.
    /// Nil when either side is empty.
    static func populationStability(_ reference: [Int], _ current: [Int], k: Int, epsilon: Double) -> (value: Double, bins: [StabilityBin])? {
        precondition(reference.count == current.count, "the same bins on both sides")
        let totalP = Double(reference.reduce(0, +)), totalQ = Double(current.reduce(0, +))
        guard totalP > 0, totalQ > 0 else { return nil }
        let top = reference.indices.filter { reference[$0] > 0 }
            .sorted { reference[$0] != reference[$1] ? reference[$0] > reference[$1] : $0 < $1 }.prefix(k)
        var shares = top.map { (id: Optional($0), p: Double(reference[$0]) / totalP, q: Double(current[$0]) / totalQ) }
        shares.append((nil, max(0, 1 - shares.reduce(0) { $0 + $1.p }), max(0, 1 - shares.reduce(0) { $0 + $1.q })))
        let bins = shares.map { bin -> StabilityBin in
            let p = max(bin.p, epsilon), q = max(bin.q, epsilon)
            return StabilityBin(id: bin.id, referenceShare: bin.p, currentShare: bin.q, term: (q - p) * log(q / p))
        }
        return (bins.reduce(0) { $0 + $1.term }, bins)
    }

    /// The 1-Wasserstein (earth mover's) distance between two samples' empirical distributions,
    /// `∫ |F_u(x) − F_v(x)| dx` (scipy's `wasserstein_distance(u, v)`). Nil when either is empty.
    static func wasserstein(_ u: [Double], _ v: [Double]) -> Double? {
        guard !u.isEmpty, !v.isEmpty else { return nil }
        let a = u.sorted(), b = v.sorted()
        var i = 0, j = 0, distance = 0.0
        var x = min(a[0], b[0])
        while i < a.count || j < b.count {
            // Step past every value equal to the next point, then integrate up to the point after.
            let next = min(i < a.count ? a[i] : .infinity, j < b.count ? b[j] : .infinity)
            distance += abs(Double(i) / Double(a.count) - Double(j) / Double(b.count)) * (next - x)
            while i < a.count, a[i] == next { i += 1 }
            while j < b.count, b[j] == next { j += 1 }
            x = next
        }
        return distance
    }

    /// Total variation distance between two categorical distributions given as shares:
    /// `½ Σ |p − q|` over the union of their categories, in [0, 1].
    static func totalVariation(_ p: [String: Double], _ q: [String: Double]) -> Double {
        0.5 * Set(p.keys).union(q.keys).reduce(0) { $0 + abs((p[$1] ?? 0) - (q[$1] ?? 0)) }
    }
}

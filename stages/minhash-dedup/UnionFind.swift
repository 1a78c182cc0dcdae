/// Disjoint sets over document indices; the root of a set is its smallest index, so clusters
/// come out the same whatever order the unions happen in.
struct UnionFind {
    private var parent: [Int32]

    init(count: Int) { parent = (0..<count).map { Int32($0) } }

    mutating func find(_ x: Int) -> Int {
        var root = x
        while Int(parent[root]) != root { root = Int(parent[root]) }
        var node = x
        while Int(parent[node]) != root {
            let next = Int(parent[node])
            parent[node] = Int32(root)
            node = next
        }
        return root
    }

    mutating func union(_ x: Int, _ y: Int) {
        let rx = find(x), ry = find(y)
        if rx == ry { return }
        if rx < ry { parent[ry] = Int32(rx) } else { parent[rx] = Int32(ry) }
    }
}

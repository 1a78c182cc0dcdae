/// Graph algorithms over stage names.
enum Graph {
    /// A cycle as a list of nodes (the first repeated at the end is implied), or nil.
    static func findCycle(_ nodes: [String], edges: (String) -> [String]) -> [String]? {
        enum Mark { case visiting, done }
        var marks: [String: Mark] = [:]
        var stack: [String] = []
        func visit(_ node: String) -> [String]? {
            if marks[node] == .done { return nil }
            if marks[node] == .visiting {
                let start = stack.firstIndex(of: node)!
                return Array(stack[start...])
            }
            marks[node] = .visiting
            stack.append(node)
            for next in edges(node) {
                if let cycle = visit(next) { return cycle }
            }
            stack.removeLast()
            marks[node] = .done
            return nil
        }
        for node in nodes {
            if let cycle = visit(node) { return cycle }
        }
        return nil
    }

    /// `targets` and everything they depend on, in a dependency-respecting order
    /// (ties keep manifest order).
    static func closure(of targets: [String], order: [String], edges: (String) -> [String]) -> [String] {
        var wanted = Set<String>()
        var frontier = targets
        while let node = frontier.popLast() {
            if wanted.insert(node).inserted { frontier.append(contentsOf: edges(node)) }
        }
        return topologicalOrder(order.filter(wanted.contains), edges: edges)
    }

    /// A topological order that keeps the given order where the edges allow.
    static func topologicalOrder(_ nodes: [String], edges: (String) -> [String]) -> [String] {
        var done = Set<String>(), result: [String] = []
        let members = Set(nodes)
        func place(_ node: String) {
            guard !done.contains(node) else { return }
            done.insert(node)
            for dep in edges(node) where members.contains(dep) { place(dep) }
            result.append(node)
        }
        nodes.forEach(place)
        return result
    }
}

/// A binary heap ordered by `before` (the element that should come out first).
package struct MaxHeap<Element> {
    private var items: [Element] = []
    private let before: (Element, Element) -> Bool

    package init(_ before: @escaping (Element, Element) -> Bool) { self.before = before }

    package var isEmpty: Bool { items.isEmpty }

    package mutating func push(_ element: Element) {
        items.append(element)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if !before(items[child], items[parent]) { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    package mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var first = parent
            if left < items.count, before(items[left], items[first]) { first = left }
            if right < items.count, before(items[right], items[first]) { first = right }
            if first == parent { break }
            items.swapAt(parent, first)
            parent = first
        }
        return top
    }
}

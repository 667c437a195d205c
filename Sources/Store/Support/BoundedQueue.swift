import Foundation

/// A blocking FIFO with a capacity: producers wait while it is full, consumers while it is empty.
/// `close()` wakes everyone; `pop` then drains what is left and returns nil.
final class BoundedQueue<Element>: @unchecked Sendable {
    // @unchecked: every access to `items` and `closed` happens under `condition`.
    private let condition = NSCondition()
    private var items: [Element] = []
    private var head = 0
    private var closed = false
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// Appends, waiting while full. Returns false (dropping the element) if the queue is closed.
    @discardableResult
    func push(_ element: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while items.count - head >= capacity && !closed { condition.wait() }
        guard !closed else { return false }
        items.append(element)
        condition.broadcast()
        return true
    }

    /// Removes the oldest element, waiting while empty; nil once closed and drained.
    func pop() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while head == items.count && !closed { condition.wait() }
        return takeLocked()
    }

    /// Removes the oldest element, waiting at most `timeout` seconds; nil when none came.
    func pop(timeout: Double) -> Element? {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while head == items.count && !closed {
            if !condition.wait(until: deadline) { break }
        }
        return takeLocked()
    }

    private func takeLocked() -> Element? {
        guard head < items.count else { return nil }
        let element = items[head]
        head += 1
        if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        condition.broadcast()
        return element
    }

    /// True once `close()` was called and every element has been taken.
    var isClosedAndEmpty: Bool {
        condition.lock()
        defer { condition.unlock() }
        return closed && head == items.count
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}

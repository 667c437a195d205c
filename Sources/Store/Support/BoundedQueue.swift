import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking FIFO with a capacity: producers wait while it is full, consumers while it is empty.
/// `close()` wakes everyone; `pop` then drains what is left and returns nil.
///
/// One mutex and two condition variables (not full, not empty), each signalled only when a thread
/// waits on it and then only one thread: a backup passes tens of thousands of small files through
/// these queues, and waking every waiter on every push and pop (what one condition with broadcasts
/// does) cost about 150,000 futex calls and as many context switches on the 33,000-file docs tree.
/// `push(contentsOf:)` and `pop(upTo:)` move a batch under one lock.
final class BoundedQueue<Element>: @unchecked Sendable {
    // @unchecked: every access to `items`, `head`, `closed` and the waiter counts happens under `mutex`.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let notEmpty = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let notFull = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var consumersWaiting = 0
    private var producersWaiting = 0
    private var items: [Element] = []
    private var head = 0
    private var closed = false
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        pthread_mutex_init(mutex, nil)
        // Timed waits measure against the monotonic clock, immune to changes of the wall clock.
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(notEmpty, &attributes)
        pthread_cond_init(notFull, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(notEmpty)
        pthread_cond_destroy(notFull)
        pthread_mutex_destroy(mutex)
        notEmpty.deallocate()
        notFull.deallocate()
        mutex.deallocate()
    }

    private var count: Int { items.count - head }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// Appends, waiting while full. Returns false (dropping the element) if the queue is closed.
    @discardableResult
    func push(_ element: Element) -> Bool {
        locked {
            guard waitForRoom() else { return false }
            items.append(element)
            wakeConsumers(1)
            return true
        }
    }

    /// Appends all of `elements` in order, waiting while the queue is full (a batch may take it past
    /// its capacity once). Returns false (dropping them) if the queue is closed.
    @discardableResult
    func push(contentsOf elements: [Element]) -> Bool {
        guard !elements.isEmpty else { return true }
        return locked {
            guard waitForRoom() else { return false }
            items.append(contentsOf: elements)
            wakeConsumers(elements.count)
            return true
        }
    }

    /// Removes the oldest element, waiting while empty; nil once closed and drained.
    func pop() -> Element? {
        locked {
            while count == 0 && !closed { waitForElements() }
            guard count > 0 else { return nil }
            let element = items[head]
            head += 1
            compact()
            wakeProducers()
            return element
        }
    }

    /// Removes up to `limit` of the oldest elements, waiting while empty; empty once closed and drained.
    func pop(upTo limit: Int) -> [Element] {
        locked {
            while count == 0 && !closed { waitForElements() }
            return take(limit)
        }
    }

    /// Removes up to `limit` of the oldest elements, waiting at most `timeout` seconds for the first;
    /// empty when none came (or the queue is closed and drained).
    func pop(upTo limit: Int, timeout: Double) -> [Element] {
        locked {
            var deadline = timespec()
            clock_gettime(CLOCK_MONOTONIC, &deadline)
            let nanoseconds = Int(deadline.tv_nsec) + Int(timeout * 1e9)
            deadline.tv_sec += nanoseconds / 1_000_000_000
            deadline.tv_nsec = nanoseconds % 1_000_000_000
            while count == 0 && !closed {
                consumersWaiting += 1
                let result = pthread_cond_timedwait(notEmpty, mutex, &deadline)
                consumersWaiting -= 1
                if result == ETIMEDOUT { break }
            }
            return take(limit)
        }
    }

    /// True once `close()` was called and every element has been taken.
    var isClosedAndEmpty: Bool { locked { closed && count == 0 } }

    func close() {
        locked {
            closed = true
            pthread_cond_broadcast(notEmpty)
            pthread_cond_broadcast(notFull)
        }
    }

    // MARK: under the mutex

    /// Waits while full; false when the queue is closed.
    private func waitForRoom() -> Bool {
        while count >= capacity && !closed {
            producersWaiting += 1
            pthread_cond_wait(notFull, mutex)
            producersWaiting -= 1
        }
        return !closed
    }

    private func waitForElements() {
        consumersWaiting += 1
        pthread_cond_wait(notEmpty, mutex)
        consumersWaiting -= 1
    }

    /// Producers wait until the queue is down to half its capacity, not for each free slot: a
    /// producer faster than its consumers then wakes once per half a queue, not once per element.
    private func wakeProducers() {
        guard producersWaiting > 0, count <= capacity / 2 else { return }
        pthread_cond_broadcast(notFull)
    }

    private func wakeConsumers(_ added: Int) {
        guard consumersWaiting > 0 else { return }
        if added == 1 { pthread_cond_signal(notEmpty) } else { pthread_cond_broadcast(notEmpty) }
    }

    /// Drops taken elements from the front of the storage once they are most of it.
    private func compact() {
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
    }

    private func take(_ limit: Int) -> [Element] {
        let taken = min(limit, count)
        guard taken > 0 else { return [] }
        // Copied element by element: `Array(items[...])` of the whole storage shares it, and
        // `compact` then had to allocate fresh storage at full capacity (a 4,096-event queue's is
        // 1 MB, mapped and faulted in anew): 380 times, 380 MB, in the docs tree's first backup.
        var result: [Element] = []
        result.reserveCapacity(taken)
        result.append(contentsOf: items[head..<head + taken])
        head += taken
        compact()
        wakeProducers()
        return result
    }
}

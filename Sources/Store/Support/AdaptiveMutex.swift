#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value behind a mutex that spins briefly before it sleeps (glibc's adaptive mutex), for the
/// locks every backup worker takes for a moment per block. The standard library's `Mutex` is a
/// priority-inheriting futex on Linux: every contended acquisition sleeps in the kernel's rt_mutex,
/// and on the docs tree the four readers' appends to the open pack made a third of all context
/// switches of the backup.
final class AdaptiveMutex<Value>: @unchecked Sendable {
    // @unchecked: `value` is only touched with `mutex` held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var value: Value

    init(_ value: Value) {
        self.value = value
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        #if canImport(Glibc)
        pthread_mutexattr_settype(&attributes, 3)   // PTHREAD_MUTEX_ADAPTIVE_NP (a GNU extension, not exported to Swift)
        #endif
        pthread_mutex_init(mutex, &attributes)
        pthread_mutexattr_destroy(&attributes)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under /tmp for one test. Call `remove()` (in a `defer`) when done; it removes
/// everything, including entries without permissions and names that are not UTF-8, unless the
/// environment sets `BLOCKVAULT_E2E_KEEP=1` (to look at a failed test's trees and vaults).
final class ScratchDirectory {
    let path: String

    init(_ label: String) throws {
        var template = Array("/tmp/blockvault-e2e-\(label)-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard created != nil else { throw FileSystemError("mkdtemp", "/tmp/blockvault-e2e-\(label)") }
        path = String(cString: template)
    }

    /// `path/name` (the entry is not created).
    func child(_ name: String) -> String { "\(path)/\(name)" }

    func remove() {
        guard path.hasPrefix("/tmp/blockvault-e2e-"), ProcessInfo.processInfo.environment["BLOCKVAULT_E2E_KEEP"] != "1" else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/rm")
        process.arguments = ["-rf", "--one-file-system", path]
        do {
            try process.run()
            process.waitUntilExit()
        } catch {
            // Leaving a directory under /tmp behind is not a test failure.
        }
    }
}

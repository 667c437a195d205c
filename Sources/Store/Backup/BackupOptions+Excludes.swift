#if canImport(Glibc)
import Glibc
#endif

extension BackupOptions {
    /// Whether an entry is left out: `--exclude` patterns (fnmatch(3)) match its path relative to
    /// the backed-up directory, or its name. Whatever is left out is never read, for the backup
    /// or for training its dictionary.
    func excludes(path: [UInt8], name: [UInt8]) -> Bool {
        guard !excludes.isEmpty else { return false }
        return excludes.contains { pattern in
            FileSystem.withCString(path) { fnmatch(pattern, $0, 0) == 0 }
                || FileSystem.withCString(name) { fnmatch(pattern, $0, 0) == 0 }
        }
    }
}

import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// An entry's extended attributes, every namespace the reader may list (`user.*`; `trusted.*` and
/// `security.*` as root; POSIX ACLs are `system.posix_acl_access` and `system.posix_acl_default`,
/// whose raw values restore them), sorted by name bytes, each name once.
///
/// Encoding (the catalog's `versions.xattrs` and the metadata records carry it; no attributes:
/// nothing is stored): a format byte (1), the attribute count (varint), then per attribute its name
/// and its value, each as a varint length and bytes. Limits, checked on reading an entry and on
/// decoding: names of 1 to 255 bytes without NUL, values of at most 64 KiB (the kernel's limits),
/// at most `maximumCount` attributes and `maximumTotal` bytes of names and values together.
public struct ExtendedAttributes: Sendable, Hashable {
    public struct Attribute: Sendable, Hashable {
        public var name: [UInt8]
        public var value: [UInt8]

        public init(name: [UInt8], value: [UInt8]) {
            self.name = name
            self.value = value
        }

        public var displayName: String { String(decoding: name, as: UTF8.self) }

        /// Whether this is a POSIX ACL: it is set after the mode, which would otherwise clobber its mask.
        var isACL: Bool { name.starts(with: ExtendedAttributes.aclPrefix) }
    }

    /// In bytewise name order, names unique.
    public private(set) var attributes: [Attribute]

    public init(_ attributes: [Attribute] = []) {
        var unique: [[UInt8]: Attribute] = [:]
        for attribute in attributes { unique[attribute.name] = attribute }
        self.attributes = unique.values.sorted { FileSystem.bytewiseLess($0.name, $1.name) }
    }

    public var isEmpty: Bool { attributes.isEmpty }

    static let formatVersion: UInt8 = 1
    static let maximumNameLength = 255
    static let maximumValueLength = 1 << 16
    static let maximumCount = 1 << 14
    static let maximumTotal = 1 << 20
    /// The longest encoding within the limits (lengths take at most 3 bytes each).
    package static let maximumEncodedSize = maximumTotal + 6 * maximumCount + 4
    static let aclPrefix = Array("system.posix_acl_".utf8)

    /// Names and values together, for sizing records.
    var byteCount: Int { attributes.reduce(0) { $0 + $1.name.count + $1.value.count + 4 } }

    /// A problem reading or setting attributes; its text names the attribute, not the entry.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    // MARK: Encoding

    /// The encoding described above; nil when there are no attributes.
    public var encoded: [UInt8]? {
        guard !attributes.isEmpty else { return nil }
        var writer = ByteWriter()
        writer.append(ExtendedAttributes.formatVersion)
        writer.appendVarint(UInt64(attributes.count))
        for attribute in attributes {
            writer.appendBytes(attribute.name)
            writer.appendBytes(attribute.value)
        }
        return writer.bytes
    }

    /// Decodes `encoded`; throws `StoreError.corrupt` on anything malformed or over the limits.
    public init(encoded bytes: [UInt8]) throws(StoreError) {
        var reader = ByteReader(bytes)
        guard try reader.uint8() == ExtendedAttributes.formatVersion else { throw .corrupt("unknown extended attribute encoding") }
        let count = try reader.varint()
        guard count <= UInt64(ExtendedAttributes.maximumCount) else { throw .corrupt("too many extended attributes (\(count))") }
        var attributes: [Attribute] = []
        var total = 0
        for _ in 0..<Int(count) {
            let name = try reader.byteString(limit: ExtendedAttributes.maximumNameLength)
            let value = try reader.byteString(limit: ExtendedAttributes.maximumValueLength)
            total += name.count + value.count
            guard !name.isEmpty, !name.contains(0), total <= ExtendedAttributes.maximumTotal,
                  attributes.last.map({ FileSystem.bytewiseLess($0.name, name) }) ?? true else {
                throw .corrupt("malformed extended attributes")
            }
            attributes.append(Attribute(name: name, value: value))
        }
        guard reader.isAtEnd else { throw .corrupt("malformed extended attributes (trailing bytes)") }
        self.attributes = attributes
    }

    // MARK: Reading

    /// The attributes of the file open as `descriptor` (no path lookup).
    public static func read(fd descriptor: Int32) throws(Failure) -> ExtendedAttributes {
        try read(list: { flistxattr(descriptor, $0, $1) }, get: { fgetxattr(descriptor, $0, $1, $2) })
    }

    /// The attributes of the entry at `path`, never following a symlink there (a symlink's own).
    public static func read(path: [UInt8]) throws(Failure) -> ExtendedAttributes {
        try FileSystem.withCString(path) { cPath in
            Result { () throws(Failure) in try read(list: { llistxattr(cPath, $0, $1) }, get: { lgetxattr(cPath, $0, $1, $2) }) }
        }.get()
    }

    private static func read(list: (UnsafeMutablePointer<CChar>?, Int) -> Int,
                             get: (UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int) throws(Failure) -> ExtendedAttributes {
        guard let names = try fetch({ list($0?.assumingMemoryBound(to: CChar.self), $1) }, what: "list extended attributes") else {
            return ExtendedAttributes()
        }
        var attributes: [Attribute] = []
        var total = 0
        for name in names.split(separator: 0) where !name.isEmpty {
            let name = Array(name)
            let value = try FileSystem.withCString(name) { cName in
                Result { () throws(Failure) in try fetch({ get(cName, $0, $1) }, what: "read extended attribute \(String(decoding: name, as: UTF8.self))") }
            }.get()
            // Removed since it was listed: as if read a moment later.
            guard let value else { continue }
            total += name.count + value.count
            guard name.count <= maximumNameLength, value.count <= maximumValueLength,
                  attributes.count < maximumCount, total <= maximumTotal else {
                throw Failure(description: "extended attributes exceed what a version records (\(maximumCount) attributes, \(maximumTotal) bytes)")
            }
            attributes.append(Attribute(name: name, value: value))
        }
        return ExtendedAttributes(attributes)
    }

    /// Calls `call` (a list or get call: buffer, size → length or -1) for the size, then for the
    /// bytes, again while they grow in between. Nil when the entry has no such attribute (or its
    /// filesystem none at all).
    private static func fetch(_ call: (UnsafeMutableRawPointer?, Int) -> Int, what: String) throws(Failure) -> [UInt8]? {
        for _ in 0..<8 {
            let size = call(nil, 0)
            if size < 0 {
                let code = errno
                if code == ENODATA || code == EOPNOTSUPP { return nil }
                throw Failure(description: "cannot \(what): \(String(cString: strerror(code)))")
            }
            if size == 0 { return [] }
            var buffer = [UInt8](repeating: 0, count: size)
            let count = buffer.withUnsafeMutableBytes { call($0.baseAddress, $0.count) }
            if count >= 0 { return Array(buffer[0..<count]) }
            let code = errno
            if code == ERANGE { continue }
            if code == ENODATA || code == EOPNOTSUPP { return nil }
            throw Failure(description: "cannot \(what): \(String(cString: strerror(code)))")
        }
        throw Failure(description: "cannot \(what): it keeps changing")
    }

    // MARK: Writing

    /// Sets the attributes on the file open as `descriptor`: those that are ACLs when `acls`, the
    /// others otherwise. Returns a line for each that could not be set.
    func write(fd descriptor: Int32, acls: Bool) -> [Failure] {
        write(acls: acls) { name, value, size in fsetxattr(descriptor, name, value, size, 0) }
    }

    /// As `write(fd:acls:)`, for the entry at `path` (never following a symlink there).
    func write(path: [UInt8], acls: Bool) -> [Failure] {
        FileSystem.withCString(path) { cPath in
            write(acls: acls) { name, value, size in lsetxattr(cPath, name, value, size, 0) }
        }
    }

    private func write(acls: Bool, _ set: (UnsafePointer<CChar>, UnsafeRawPointer?, Int) -> Int32) -> [Failure] {
        var failures: [Failure] = []
        for attribute in attributes where attribute.isACL == acls {
            let result = FileSystem.withCString(attribute.name) { name in
                attribute.value.withUnsafeBytes { set(name, $0.baseAddress, $0.count) }
            }
            if result != 0 {
                failures.append(Failure(description: "cannot set extended attribute \(attribute.displayName): \(String(cString: strerror(errno)))"))
            }
        }
        return failures
    }
}

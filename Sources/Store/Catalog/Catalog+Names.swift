extension Catalog {
    /// The row id of the name `name` (one path component) under `parent` (0: the folder's root),
    /// created if new.
    public func nameID(folder: Int64, parent: Int64, name: [UInt8]) throws(StoreError) -> Int64 {
        try nameID(folder: folder, parent: parent, name: name, parentIsNew: false).id
    }

    /// The row id of `name` under `parent`, inserted when missing, and whether it was inserted. Under
    /// a parent that is new (few or no children yet) the insert is tried first; elsewhere the lookup.
    func nameID(folder: Int64, parent: Int64, name: [UInt8], parentIsNew: Bool) throws(StoreError) -> (id: Int64, created: Bool) {
        let bindings: [SQLValue] = [.integer(folder), .integer(parent), .blob(name)]
        if parentIsNew {
            try database.prepare("INSERT INTO names(folder, parent, name) VALUES(?, ?, ?) ON CONFLICT DO NOTHING").run(bindings)
            if database.changes == 1 { return (database.lastInsertRowID, true) }
        }
        if let existing = try existingNameID(folder: folder, parent: parent, name: name) { return (existing, false) }
        try database.prepare("INSERT INTO names(folder, parent, name) VALUES(?, ?, ?)").run(bindings)
        return (database.lastInsertRowID, true)
    }

    public func existingNameID(folder: Int64, parent: Int64, name: [UInt8]) throws(StoreError) -> Int64? {
        try database.scalar("SELECT id FROM names WHERE folder = ? AND parent = ? AND name = ?",
                            [.integer(folder), .integer(parent), .blob(name)])
    }

    /// The row id of a path's name, found component by component (one query each); nil when the
    /// folder never had that path.
    public func existingNameID(folder: Int64, path: [UInt8]) throws(StoreError) -> Int64? {
        var id: Int64 = 0
        for component in path.split(separator: Catalog.separator, omittingEmptySubsequences: false) {
            guard let child = try existingNameID(folder: folder, parent: id, name: Array(component)) else { return nil }
            id = child
        }
        return id == 0 ? nil : id
    }

    static let separator = UInt8(ascii: "/")

    /// `directory/name`, or `name` at the root (`directory` empty).
    static func path(in directory: [UInt8], name: UnsafeRawBufferPointer) -> [UInt8] {
        guard !directory.isEmpty else { return Array(name) }
        var path: [UInt8] = []
        path.reserveCapacity(directory.count + 1 + name.count)
        path += directory
        path.append(separator)
        path += name
        return path
    }
}

/// Full paths of directories, built from the names' parent links with one query for each
/// directory not met before: reading versions in sequence order (scattered over the tree) costs a
/// query per directory, not per version. Belongs to one catalog connection, for one read.
struct DirectoryPaths {
    let catalog: Catalog
    private var paths: [Int64: [UInt8]] = [0: []]

    init(catalog: Catalog) { self.catalog = catalog }

    /// The path of the file or directory whose name is `name` under the directory `parent`.
    mutating func path(parent: Int64, name: UnsafeRawBufferPointer) throws(StoreError) -> [UInt8] {
        Catalog.path(in: try path(of: parent), name: name)
    }

    /// The path of the directory with name id `id` (0: the root, the empty path).
    mutating func path(of id: Int64) throws(StoreError) -> [UInt8] {
        if let known = paths[id] { return known }
        // Walk up to a known ancestor, then build the paths back down, remembering each.
        var chain: [(id: Int64, name: [UInt8])] = []
        var current = id
        while paths[current] == nil {
            guard chain.count < 1 << 16 else { throw .corrupt("name \(id) in the catalog is its own ancestor") }
            let statement = try catalog.database.prepare("SELECT parent, name FROM names WHERE id = ?")
            try statement.bind([.integer(current)])
            guard try statement.step() else { throw .corrupt("name \(current) is missing from the catalog") }
            chain.append((current, statement.blob(1)))
            current = statement.int64(0)
            try statement.step()
        }
        var path = paths[current]!
        for link in chain.reversed() {
            path = link.name.withUnsafeBytes { Catalog.path(in: path, name: $0) }
            paths[link.id] = path
        }
        return path
    }
}

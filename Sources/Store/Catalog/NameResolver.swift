/// Interns paths of one folder as catalog names, creating a path's parents first, with directory
/// ids cached so a deep tree costs one lookup per new name. Used by the backup's committer and by
/// the catalog rebuild. Not thread-safe: it belongs to the catalog connection's thread.
struct NameResolver {
    let catalog: Catalog
    let folder: Int64
    private var directoryIDs: [PathKey: Int64] = [:]

    init(catalog: Catalog, folder: Int64) {
        self.catalog = catalog
        self.folder = folder
    }

    /// The interned name of `path`, created (with its parents) when new.
    mutating func nameID(for path: [UInt8]) throws -> Int64 {
        if let known = directoryIDs[PathKey(path)] { return known }
        var parent: Int64 = 0
        var name = path
        if let slash = path.lastIndex(of: Catalog.separator) {
            let parentPath = Array(path[..<slash])
            parent = try nameID(for: parentPath)
            directoryIDs[PathKey(parentPath)] = parent
            name = Array(path[(slash + 1)...])
        }
        return try catalog.nameID(folder: folder, parent: parent, name: name)
    }

    /// Remembers a directory's id so its children resolve without a query.
    mutating func remember(directory path: [UInt8], id: Int64) { directoryIDs[PathKey(path)] = id }
}

/// Interns paths of one folder as catalog names, creating a path's parents first, with directory
/// ids cached so a deep tree costs one lookup per new name. Used by the backup's committer and by
/// the catalog rebuild. Not thread-safe: it belongs to the catalog connection's thread.
struct NameResolver {
    let catalog: Catalog
    let folder: Int64
    /// Directories resolved so far, and whether this resolver created them: a directory it created
    /// had no children before, so a child is inserted first and looked up only if that conflicts
    /// (a second version of the same path), saving a lookup per name in a new subtree.
    private var directories: [PathKey: (id: Int64, created: Bool)] = [:]

    init(catalog: Catalog, folder: Int64) {
        self.catalog = catalog
        self.folder = folder
    }

    /// The interned name of `path`, created (with its parents) when new. A directory's id is kept, so
    /// that its children resolve without a query for it.
    mutating func nameID(for path: [UInt8], isDirectory: Bool = false) throws -> Int64 {
        let resolved = try resolve(path)
        if isDirectory { directories[PathKey(path)] = resolved }
        return resolved.id
    }

    private mutating func resolve(_ path: [UInt8]) throws -> (id: Int64, created: Bool) {
        if let known = directories[PathKey(path)] { return known }
        var parent: (id: Int64, created: Bool) = (0, false)
        var name = path
        if let slash = path.lastIndex(of: Catalog.separator) {
            let parentPath = Array(path[..<slash])
            parent = try resolve(parentPath)
            directories[PathKey(parentPath)] = parent
            name = Array(path[(slash + 1)...])
        }
        return try catalog.nameID(folder: folder, parent: parent.id, name: name, parentIsNew: parent.created)
    }
}

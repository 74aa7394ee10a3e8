import Foundation
import MedicModel

/// The result of loading: the catalog and every diagnostic of every file, in reading order.
public struct LoadResult: Sendable {
    public var catalog: Catalog
    public var diagnostics: [Diagnostic]
    /// What each file held, in the order of `catalog.files`.
    public var files: [LoadedFile]

    public var hasErrors: Bool { diagnostics.hasErrors }
}

/// Loads files and directories into a `Catalog`: read (bytes -> tree), decode (tree -> values),
/// then lint across all files. Never stops at the first error; never throws for user mistakes.
public struct CatalogLoader: Sendable {
    public static let extensions = ["yaml", "yml", "json"]
    /// The folders `medic validate` reads under `--root` when no path is given.
    public static let libraryFolders = ["playbooks", "actions", "rules", "policies"]

    /// Those of the library folders that exist under `root`.
    public static func libraryPaths(under root: String) -> [String] {
        libraryFolders.map { (root as NSString).appendingPathComponent($0) }.filter { FileManager.default.fileExists(atPath: $0) }
    }

    public var limits: InputLimits
    public var threads: Int

    public init(limits: InputLimits = .default, threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.limits = limits
        self.threads = threads
    }

    /// Loads `paths` (files or directories, searched recursively for .yaml .yml .json).
    /// `context` paths are loaded too, so that references resolve (a playbook's actions), but
    /// only diagnostics of files under `paths` are reported.
    public func load(paths: [String], context: [String] = []) -> LoadResult {
        var diagnostics: [Diagnostic] = []
        let named = Self.files(in: paths, diagnostics: &diagnostics)
        let namedSet = Set(named)
        // `policies/x.yaml` and `./policies/x.yaml` are one file.
        var ignored: [Diagnostic] = []
        var extra = Self.files(in: context, diagnostics: &ignored)
        if !extra.isEmpty {
            let namedFiles = Set(named.map(Self.normalized))
            extra.removeAll { namedFiles.contains(Self.normalized($0)) }
        }
        // Context first: a duplicate is reported at its second occurrence, which must be the named file.
        let all = extra + named
        let reader = DocumentReader(limits: limits)
        // A lowered --max-file-size is about the files being checked; the library read only so
        // that references resolve keeps at least the default, or its files would vanish silently.
        var contextLimits = limits
        contextLimits.maxFileSize = max(limits.maxFileSize, InputLimits.default.maxFileSize)
        let contextReader = DocumentReader(limits: contextLimits)
        let contextCount = extra.count
        let loaded = LoaderThreads.map(count: all.count, threads: threads) { index in
            var file = Self.loadFile(at: all[index], reader: index < contextCount ? contextReader : reader)
            file.isContext = index < contextCount
            return file
        }
        var result = assemble(loaded)
        let reported = result.diagnostics.filter { namedSet.contains($0.location.file) }
        result.diagnostics = (diagnostics + reported).sortedForReport()
        return result
    }

    /// Loads documents already in memory (path -> bytes), e.g. for tests and the server.
    public func load(documents: [(path: String, bytes: [UInt8])]) -> LoadResult {
        let reader = DocumentReader(limits: limits)
        let loaded = LoaderThreads.map(count: documents.count, threads: threads) { index in
            Self.decode(bytes: documents[index].bytes, path: documents[index].path, reader: reader)
        }
        var result = assemble(loaded)
        result.diagnostics = result.diagnostics.sortedForReport()
        return result
    }

    private func assemble(_ loaded: [LoadedFile]) -> LoadResult {
        var catalog = Catalog()
        var diagnostics: [Diagnostic] = []
        for file in loaded {
            catalog.files.append(file.path)
            diagnostics += file.diagnostics
            if let playbook = file.playbook { catalog.playbooks.append(playbook) }
            catalog.actions += file.actions
            catalog.rules += file.rules
            catalog.policies.merge(file.policies)
        }
        diagnostics += CatalogLint(catalog: catalog).check()
        return LoadResult(catalog: catalog, diagnostics: diagnostics, files: loaded)
    }

    static func loadFile(at path: String, reader: DocumentReader) -> LoadedFile {
        let location = SourceLocation(file: path)
        var loaded = LoadedFile(path: path)
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        if let size = attributes?[.size] as? Int, size > reader.limits.maxFileSize {
            loaded.diagnostics = [Diagnostic(.fileTooLarge, "file is \(size) bytes, over the limit of \(reader.limits.maxFileSize) bytes",
                                             at: SourceLocation(file: path, line: 1, column: 1), hint: "split it into smaller files, or raise the limit with --max-file-size")]
            return loaded
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            loaded.diagnostics = [Diagnostic(.fileUnreadable, "cannot open the file", at: location, hint: "check that it exists and is readable")]
            return loaded
        }
        defer { try? handle.close() }
        // Read one byte past the limit, so a file that grew since stat is still caught.
        let data: Data?
        do {
            data = try handle.read(upToCount: reader.limits.maxFileSize + 1)
        } catch {
            loaded.diagnostics = [Diagnostic(.fileUnreadable, "cannot read the file: \(error.localizedDescription)", at: location,
                                             hint: "is it a directory or a device?")]
            return loaded
        }
        // An empty file reads as nil.
        return decode(bytes: data.map { [UInt8]($0) } ?? [], path: path, reader: reader)
    }

    static func decode(bytes: [UInt8], path: String, reader: DocumentReader) -> LoadedFile {
        let (root, readDiagnostics) = reader.read(bytes: bytes, path: path)
        guard let root else { return LoadedFile(path: path, diagnostics: readDiagnostics) }
        var loaded = FileDecoder.decode(root, path: path, source: bytes)
        loaded.diagnostics = readDiagnostics + loaded.diagnostics
        return loaded
    }

    /// The absolute form of a path with `.`, `..` and repeated slashes folded: string work only
    /// (no file system calls, which cost 10% of validate-10k when every path was resolved).
    static func normalized(_ path: String) -> String {
        if path.hasPrefix("/") && !path.contains("/.") && !path.contains("//") && !path.hasSuffix("/") { return path }
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var parts: [Substring] = []
        for part in absolute.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { _ = parts.popLast(); continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// The Medic files under `paths`, sorted within each directory; a path that does not exist is M001.
    public static func files(in paths: [String], diagnostics: inout [Diagnostic]) -> [String] {
        var result: [String] = []
        var seen: Set<String> = []
        let fm = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
                diagnostics.append(Diagnostic(.fileUnreadable, "no such file or directory", at: SourceLocation(file: path),
                                              hint: "check the path; with no path, medic validate reads playbooks/ actions/ rules/ policies/ under --root"))
                continue
            }
            guard isDirectory.boolValue else {
                if seen.insert(normalized(path)).inserted { result.append(path) }
                continue
            }
            var found: [String] = []
            if let walker = fm.enumerator(atPath: path) {
                while let relative = walker.nextObject() as? String {
                    let name = (relative as NSString).lastPathComponent
                    if name.hasPrefix(".") {
                        walker.skipDescendants()
                        continue
                    }
                    guard extensions.contains((name as NSString).pathExtension.lowercased()) else { continue }
                    found.append(path.hasSuffix("/") ? path + relative : path + "/" + relative)
                }
            }
            for file in found.sorted() where seen.insert(normalized(file)).inserted {
                var isDir: ObjCBool = false
                if fm.fileExists(atPath: file, isDirectory: &isDir), !isDir.boolValue { result.append(file) }
            }
        }
        return result
    }
}

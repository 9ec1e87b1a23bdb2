import Foundation

/// Several labelled patch datasets, each with a role, combined into one dataset and split.
///
/// A manifest is a CSV with the columns `path,role` and optionally `split` and `subsets`:
///
///     path,role,split,subsets
///     ../shared/data/pcam-kaggle,train,Samples/models/pcam-kaggle-split.csv,train val
///     .data/pcam-more/ai4all-pcam-train,train,,
///     .data/pcam-more/ai4all-pcam-valid,split,Samples/models/ai4all-pcam-valid-split.csv,
///
/// - `role` is `train`, `val`, `test`, or `split` (each patch keeps the subset its split gives it).
/// - `split` names a split CSV of that dataset (`histoscreen split`); `subsets` (space-separated)
///   keeps only the patches in those subsets of it. Without `split`, the whole dataset is taken.
/// - Paths are relative to the manifest's folder.
///
/// Patch ids are prefixed with the dataset's folder name (`ai4all-pcam-valid/<id>`) when more
/// than one dataset is combined, so ids stay unique; a single dataset keeps its own ids.
public struct DatasetManifest: Sendable, Equatable {
    public enum Role: String, Sendable, Codable, CaseIterable {
        case train, validation = "val", test, split

        /// The subset every patch of the entry goes to; nil for `split` (the split file says).
        var subset: DatasetSplit.Subset? {
            switch self {
            case .train: .train
            case .validation: .validation
            case .test: .test
            case .split: nil
            }
        }
    }

    public struct Entry: Sendable, Equatable, Codable {
        public var path: String
        public var role: Role
        public var split: String?
        public var subsets: [DatasetSplit.Subset]?

        public init(path: String, role: Role, split: String? = nil, subsets: [DatasetSplit.Subset]? = nil) {
            self.path = path
            self.role = role
            self.split = split
            self.subsets = subsets
        }
    }

    /// What one entry contributed, for reports and the bundle's provenance.
    public struct Contribution: Sendable, Codable, Equatable {
        public var path: String
        public var role: String
        public var split: String?
        public var train = 0, validation = 0, test = 0
        public var positives = 0
    }

    public var entries: [Entry]
    /// The manifest file, when read from one.
    public var source: String?

    public init(entries: [Entry], source: String? = nil) {
        self.entries = entries
        self.source = source
    }

    /// `path` relative to the folder `base` (absolute paths as given), with "." and ".." folded
    /// by their names, so that a bundle's provenance records `Samples/datasets/../../.data/x`
    /// as `.data/x` and `../shared/data` stays relative. Foundation's `standardizingPath` folds
    /// ".." only in absolute paths.
    public static func resolve(_ path: String, against base: String) -> String {
        if path.hasPrefix("/") { return path }
        let absolute = base.hasPrefix("/")
        var parts: [Substring] = []
        for part in ((base.isEmpty ? "" : base + "/") + path).split(separator: "/") {
            switch part {
            case ".": continue
            case "..":
                if let last = parts.last, last != ".." { parts.removeLast() } else if !absolute { parts.append(part) }
            default: parts.append(part)
            }
        }
        let joined = parts.joined(separator: "/")
        return absolute ? "/" + joined : (joined.isEmpty ? "." : joined)
    }

    /// Reads a manifest CSV; relative paths are resolved against its folder.
    public static func read(_ path: String) throws(DatasetError) -> DatasetManifest {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw DatasetError(path: path, problem: "cannot read the manifest as UTF-8 text")
        }
        let rows = CSV.parse(text)
        guard let header = rows.first?.map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }),
              let pathColumn = header.firstIndex(of: "path"), let roleColumn = header.firstIndex(of: "role") else {
            throw DatasetError(path: path, problem: "a dataset manifest needs the columns path and role (optional: split, subsets)")
        }
        let splitColumn = header.firstIndex(of: "split"), subsetsColumn = header.firstIndex(of: "subsets")
        let base = (path as NSString).deletingLastPathComponent
        func resolve(_ p: String) -> String { Self.resolve(p, against: base) }
        var entries: [Entry] = []
        for (index, row) in rows.dropFirst().enumerated() where !(row.allSatisfy { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            func field(_ column: Int?) -> String? {
                guard let column, column < row.count else { return nil }
                let value = row[column].trimmingCharacters(in: .whitespaces)
                return value.isEmpty ? nil : value
            }
            let line = index + 2
            guard let datasetPath = field(pathColumn) else { throw DatasetError(path: path, problem: "line \(line): no path") }
            guard let roleText = field(roleColumn), let role = Role(rawValue: roleText) else {
                throw DatasetError(path: path, problem: "line \(line): role '\(field(roleColumn) ?? "")' is not train, val, test or split")
            }
            var subsets: [DatasetSplit.Subset]?
            if let text = field(subsetsColumn) {
                subsets = []
                for word in text.split(whereSeparator: { $0 == " " || $0 == "+" || $0 == ";" }) {
                    guard let s = DatasetSplit.Subset(rawValue: String(word)) else {
                        throw DatasetError(path: path, problem: "line \(line): subset '\(word)' is not train, val or test")
                    }
                    subsets!.append(s)
                }
            }
            let split = field(splitColumn).map(resolve)
            if role == .split && split == nil {
                throw DatasetError(path: path, problem: "line \(line): role 'split' needs a split file in the split column")
            }
            if subsets != nil && split == nil {
                throw DatasetError(path: path, problem: "line \(line): subsets need a split file in the split column")
            }
            entries.append(Entry(path: resolve(datasetPath), role: role, split: split, subsets: subsets))
        }
        guard !entries.isEmpty else { throw DatasetError(path: path, problem: "the manifest lists no datasets") }
        return DatasetManifest(entries: entries, source: path)
    }

    /// Opens every dataset and combines them: one dataset (ids prefixed by folder name when
    /// there are several) and the split that gives every listed patch its role.
    public func load(skipMissing: Bool = false) throws(DatasetError)
        -> (dataset: PatchDataset, split: DatasetSplit, contributions: [Contribution]) {
        let where_ = source ?? entries.first?.path ?? "manifest"
        guard !entries.isEmpty else { throw DatasetError(path: where_, problem: "no datasets given") }
        // One open per distinct folder; names made unique by appending a number.
        var opened: [String: PatchDataset] = [:]
        var names: [String: String] = [:]
        var order: [String] = []
        for entry in entries where opened[entry.path] == nil {
            opened[entry.path] = try PatchDataset.open(entry.path, skipMissing: skipMissing)
            var name = Self.displayName(entry.path)
            var n = 2
            while names.values.contains(name) { name = "\(Self.displayName(entry.path))-\(n)"; n += 1 }
            names[entry.path] = name
            order.append(entry.path)
        }
        let prefixed = order.count > 1
        func key(_ path: String, _ id: String) -> String { prefixed ? "\(names[path]!)/\(id)" : id }

        var records: [PatchRecord] = []
        var missing: [String] = []
        for path in order {
            let d = opened[path]!
            missing += d.missing
            for r in d.records {
                var copy = r
                copy.id = key(path, r.id)
                if prefixed { copy.group = r.group.map { "\(names[path]!)/\($0)" } }
                records.append(copy)
            }
        }
        var assignments: [String: DatasetSplit.Subset] = [:]
        var contributions: [Contribution] = []
        let labels = Dictionary(uniqueKeysWithValues: records.map { ($0.id, $0.label) })
        for entry in entries {
            let d = opened[entry.path]!
            var contribution = Contribution(path: entry.path, role: entry.role.rawValue, split: entry.split)
            var own: [String: DatasetSplit.Subset]?
            if let splitPath = entry.split { own = try DatasetSplit.read(splitPath, for: d).assignments }
            for r in d.records {
                var fromSplit: DatasetSplit.Subset?
                if let own {
                    guard let s = own[r.id] else { continue }
                    if let keep = entry.subsets, !keep.contains(s) { continue }
                    fromSplit = s
                }
                // A `split` entry without a split file (only possible when built in code) is a test set.
                let subset = entry.role.subset ?? fromSplit ?? .test
                let id = key(entry.path, r.id)
                if let earlier = assignments[id], earlier != subset {
                    throw DatasetError(path: where_, problem: "patch '\(id)' is given two roles (\(earlier.rawValue) and \(subset.rawValue))",
                                       hint: "a patch may serve one purpose only: list each dataset (or each subset of its split) once")
                }
                assignments[id] = subset
                switch subset {
                case .train: contribution.train += 1
                case .validation: contribution.validation += 1
                case .test: contribution.test += 1
                }
                contribution.positives += labels[id] == 1 ? 1 : 0
            }
            contributions.append(contribution)
        }
        let root = order.count == 1 ? order[0] : (source ?? order.joined(separator: "+"))
        let dataset = PatchDataset(root: root, layout: order.count == 1 ? opened[order[0]]!.layout : .csv,
                                   records: records.sorted { $0.id < $1.id }, missing: missing)
        return (dataset, DatasetSplit(assignments: assignments), contributions)
    }

    static func displayName(_ path: String) -> String {
        var name = (path as NSString).lastPathComponent
        if name.lowercased().hasSuffix(".csv") { name = ((path as NSString).deletingLastPathComponent as NSString).lastPathComponent }
        return name.isEmpty ? "dataset" : name
    }
}

import Foundation
import Imaging
import Neural

/// A deterministic assignment of every patch to train, validation or test.
public struct DatasetSplit: Sendable, Equatable {
    public enum Subset: String, Sendable, Codable, CaseIterable {
        case train, validation = "val", test
    }

    /// Patch id → subset.
    public var assignments: [String: Subset]

    public init(assignments: [String: Subset]) { self.assignments = assignments }

    /// Splits `dataset` by `ratios` (train, validation, test; summing to 1), stratified by
    /// label: each class is shuffled with `seed` and cut at the rounded ratios, so every row
    /// lands in exactly one subset. With `byGroup`, whole groups (slides or patients) are
    /// assigned together, stratified by whether the group holds any tumour patch.
    public static func make(_ dataset: PatchDataset, ratios: [Double], seed: UInt64, byGroup: Bool = false) throws(DatasetError) -> DatasetSplit {
        guard ratios.count == 3, ratios.allSatisfy({ $0 >= 0 }), abs(ratios.reduce(0, +) - 1) < 1e-6 else {
            throw DatasetError(path: dataset.root, problem: "split ratios \(ratios) must be three non-negative numbers summing to 1")
        }
        var generator = SplitMix64(seed: seed)
        var assignments: [String: Subset] = [:]
        if byGroup {
            guard dataset.records.allSatisfy({ $0.group != nil }) else {
                throw DatasetError(path: dataset.root, problem: "a grouped split needs a slide, patient or group column for every row")
            }
            var members: [String: [PatchRecord]] = [:]
            for r in dataset.records { members[r.group!, default: []].append(r) }
            for positive in [false, true] {
                let groups = members.keys.filter { key in members[key]!.contains { $0.label == 1 } == positive }.sorted()
                let order = shuffled(groups, using: &generator)
                let total = order.reduce(0) { $0 + members[$1]!.count }
                let quotas = cut(total, ratios)
                var assigned = 0
                for group in order {
                    let subset: Subset = assigned < quotas.train ? .train : assigned < quotas.train + quotas.validation ? .validation : .test
                    for r in members[group]! { assignments[r.id] = subset }
                    assigned += members[group]!.count
                }
            }
        } else {
            for label in [0, 1] {
                let ids = shuffled(dataset.records.filter { $0.label == label }.map(\.id), using: &generator)
                let quotas = cut(ids.count, ratios)
                for (i, id) in ids.enumerated() {
                    assignments[id] = i < quotas.train ? .train : i < quotas.train + quotas.validation ? .validation : .test
                }
            }
        }
        return DatasetSplit(assignments: assignments)
    }

    /// Counts per subset from rounding; the test subset takes the remainder.
    static func cut(_ n: Int, _ ratios: [Double]) -> (train: Int, validation: Int) {
        let train = Int((Double(n) * ratios[0]).rounded())
        let validation = min(n - train, Int((Double(n) * ratios[1]).rounded()))
        return (train, validation)
    }

    /// Fisher–Yates with our own generator, so the order does not depend on the standard
    /// library's shuffle algorithm.
    public static func shuffled<T>(_ items: [T], using generator: inout SplitMix64) -> [T] {
        var a = items
        if a.count < 2 { return a }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = Int(generator.next() % UInt64(i + 1))
            a.swapAt(i, j)
        }
        return a
    }

    /// The dataset's indices in `subset`, in dataset order.
    public func indices(of subset: Subset, in dataset: PatchDataset) -> [Int] {
        dataset.records.indices.filter { assignments[dataset.records[$0].id] == subset }
    }

    /// `id,label,subset[,group]` rows, sorted by id.
    public func csv(for dataset: PatchDataset) -> String {
        let grouped = dataset.records.contains { $0.group != nil }
        var lines = [grouped ? "id,label,subset,group" : "id,label,subset"]
        for r in dataset.records {
            guard let s = assignments[r.id] else { continue }
            var fields = [CSV.escape(r.id), String(r.label), s.rawValue]
            if grouped { fields.append(CSV.escape(r.group ?? "")) }
            lines.append(fields.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Reads a split CSV written by `csv(for:)`, checking it against the dataset: every id
    /// must exist there with the same label.
    public static func read(_ path: String, for dataset: PatchDataset) throws(DatasetError) -> DatasetSplit {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw DatasetError(path: path, problem: "cannot read the split file")
        }
        let rows = CSV.parse(text)
        guard let header = rows.first, let idColumn = header.firstIndex(of: "id"), let subsetColumn = header.firstIndex(of: "subset"),
              let labelColumn = header.firstIndex(of: "label") else {
            throw DatasetError(path: path, problem: "a split file needs the columns id, label and subset",
                               hint: "make one with `histoscreen split DATASET --out split.csv`")
        }
        let labels = Dictionary(uniqueKeysWithValues: dataset.records.map { ($0.id, $0.label) })
        var assignments: [String: Subset] = [:]
        for (index, row) in rows.dropFirst().enumerated() where row.count > 1 {
            guard row.count > max(idColumn, subsetColumn, labelColumn), let subset = Subset(rawValue: row[subsetColumn]) else {
                throw DatasetError(path: path, problem: "line \(index + 2): expected a subset of train, val or test")
            }
            guard let label = labels[row[idColumn]] else {
                throw DatasetError(path: path, problem: "line \(index + 2): '\(row[idColumn])' is not in the dataset \(dataset.root)")
            }
            guard String(label) == row[labelColumn] else {
                throw DatasetError(path: path, problem: "line \(index + 2): '\(row[idColumn])' has label \(row[labelColumn]) here but \(label) in the dataset")
            }
            assignments[row[idColumn]] = subset
        }
        return DatasetSplit(assignments: assignments)
    }
}

import Foundation
import PipeKit

/// `pipe serve --alias NAME`: the model an alias record (`<registry>/<NAME>.json`) names now,
/// read again every `--reload-interval`; a promotion or a rollback swaps the new model in.
struct AliasModel: Sendable {
    let alias: String
    let registry: URL

    /// The alias's current entry; an error when it was never promoted.
    func current() throws -> ModelAlias.Entry {
        guard let record = try ModelAlias.read(alias, registry: registry) else {
            throw UsageError("alias '\(alias)' has never been promoted: no \(ModelAlias.file(alias, registry: registry).path)")
        }
        return record.current
    }

    /// The entry's files, in the registry (they stay there when the model retires).
    func resolved(_ entry: ModelAlias.Entry) -> ResolvedModel {
        let folder = registry.appendingPathComponent(entry.folder)
        return ResolvedModel(name: alias, model: folder.appendingPathComponent("model"), tokenizer: folder.appendingPathComponent("tokenizer"))
    }

    func supply(open: @escaping FollowedModelSupply<ModelAlias.Entry>.Open) -> FollowedModelSupply<ModelAlias.Entry> {
        FollowedModelSupply(latest: { try current() }, place: { entry, _ in (resolved(entry), {}) }, open: open)
    }
}

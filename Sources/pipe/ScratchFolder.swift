import Foundation

/// A temporary folder a command materializes artifacts into (a manifest stage's model and
/// tokenizer), removed when the command ends; a removal that fails is a warning naming it.
struct ScratchFolder {
    let url: URL

    init(_ command: String) {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-\(command)-\(UUID().uuidString)")
    }

    private init(url: URL) { self.url = url }

    /// A folder inside this one that can be removed on its own (it goes with this one too).
    func subfolder(_ name: String) -> ScratchFolder { ScratchFolder(url: url.appendingPathComponent(name)) }

    func remove() {
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        do {
            try FileManager.default.removeItem(at: url)
        } catch {
            Terminal.error("warning: could not remove \(url.path): \(error.localizedDescription)")
        }
    }
}

import Foundation

/// Appends a `heartbeat` for each trial this process runs, every `interval` seconds, so other
/// processes can tell a live trial from one whose process vanished on another host.
final class Heartbeat: @unchecked Sendable {
    private let journal: StudyJournal
    private let mutex = NSLock()
    private var attempts: [Int: String] = [:]
    private var warned = false
    private let timer: DispatchSourceTimer

    init(journal: StudyJournal, interval: Double) {
        self.journal = journal
        timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [weak self] in self?.beat() }
        timer.resume()
    }

    deinit { timer.cancel() }

    func add(_ number: Int, attempt: String) { mutex.withLock { attempts[number] = attempt } }
    func remove(_ number: Int) { _ = mutex.withLock { attempts.removeValue(forKey: number) } }

    private func beat() {
        for (number, attempt) in mutex.withLock({ attempts }) {
            // One missed beat is harmless (takeover waits for many), but a journal that keeps
            // refusing them lets other processes take the trial over: say so, once.
            do {
                try journal.append(JournalEntry(.heartbeat, number: number, attempt: attempt))
            } catch {
                let first = mutex.withLock { () -> Bool in
                    defer { warned = true }
                    return !warned
                }
                guard first else { continue }
                FileHandle.standardError.write(Data("warning: cannot append a heartbeat to \(journal.url.path): \(error)\n".utf8))
            }
        }
    }
}

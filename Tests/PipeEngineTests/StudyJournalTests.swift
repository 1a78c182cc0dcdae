import Foundation
@testable import PipeEngine
import PipeKit
import XCTest

/// `StudyJournal.state()` reads only what was appended since its last call, and ends where a
/// full read of the journal does: with lines from other processes, a line still being written,
/// a line torn by a crash, and a journal started again.
final class StudyJournalTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-journal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDown() { FileSystem.removeTree(root) }

    func started(_ number: Int) -> JournalEntry {
        var entry = JournalEntry(.trialStarted, number: number, attempt: "a\(number)", time: 1)
        entry.params = ["x": .double(Double(number))]
        entry.pid = 1
        entry.host = "h"
        return entry
    }

    func finished(_ number: Int) -> JournalEntry {
        var entry = JournalEntry(.trialFinished, number: number, attempt: "a\(number)", time: 2)
        entry.value = Double(number) / 2
        return entry
    }

    /// Appends raw bytes, as a process that dies mid-line leaves them.
    func appendRaw(_ text: String, to journal: StudyJournal) throws {
        let handle = try FileHandle(forWritingTo: journal.url)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }

    /// Each trial's number, state and value.
    func summary(_ state: StudyState) -> [String] {
        state.ordered.map { "\($0.number) \($0.status.rawValue) \($0.value.map { "\($0)" } ?? "-")" }
    }

    func testStateFollowsAppendsAndAgreesWithAFullRead() throws {
        let cache = Cache(root: root.appendingPathComponent("cache"))
        let mine = try StudyJournal(cache: cache, study: "s")
        let other = try StudyJournal(cache: cache, study: "s")  // another process on the study
        XCTAssertTrue(try mine.state().trials.isEmpty)

        try mine.append(started(0))
        try other.append(finished(0))
        try other.append(started(1))
        XCTAssertEqual(summary(try mine.state()), ["0 complete 0.0", "1 running -"])

        try appendRaw(#"{"event":"trial_finished","number":1,"#, to: mine)  // still being written
        XCTAssertEqual(summary(try mine.state()), ["0 complete 0.0", "1 running -"])
        try mine.repair()  // the writer died: its torn line is ended and passed over
        try other.append(finished(1))
        try other.append(started(2))
        XCTAssertEqual(summary(try mine.state()), ["0 complete 0.0", "1 complete 0.5", "2 running -"])
        XCTAssertEqual(summary(try mine.state()), summary(StudyState(try other.read().entries)))
        XCTAssertEqual(try other.read().skipped, 1)
        XCTAssertEqual(mine.skippedLines, 1, "the torn line is counted for the sweep's warning")
        XCTAssertTrue(mine.skippedWarning(1).contains(mine.url.path))

        try FileManager.default.removeItem(at: mine.url)  // the study removed and started again
        let again = try StudyJournal(cache: cache, study: "s")
        try again.append(started(0))
        XCTAssertEqual(summary(try mine.state()), ["0 running -"])
        XCTAssertEqual(mine.skippedLines, 0, "a journal started again is counted afresh")
    }
}

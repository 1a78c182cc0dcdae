import PipeEngine
import XCTest

/// The plugin protocol's lines: reports are understood, anything doubtful stays a log line.
final class PluginLineTests: XCTestCase {
    func testReportsAreParsed() {
        XCTAssertEqual(PluginLine("::progress 0.5 halfway"), .progress(0.5, "halfway"))
        XCTAssertEqual(PluginLine("::metric loss 3.25"), .metric("loss", 3.25))
        XCTAssertEqual(PluginLine("::metric val.loss 3.21 step=400"), .intermediate("val.loss", 3.21, step: 400))
        XCTAssertEqual(PluginLine("::warning disk almost full"), .warning("disk almost full"))
        XCTAssertEqual(PluginLine("hello"), .log("hello"))
    }

    func testNonFiniteNumbersAndOutOfRangeFractionsStayLogLines() {
        // A NaN metric would make the run record unencodable (JSON has no NaN).
        for line in ["::metric loss nan", "::metric loss inf", "::metric loss -infinity", "::progress nan x",
                     "::progress 1.5 x", "::progress -0.1", "::metric a b c", "::metric a 1 step=-2",
                     "::metric a 1 step=1.5", "::metric a 1 at=3", "::metric a nan step=3", "::metric a 1 step=3 x"] {
            XCTAssertEqual(PluginLine(line), .log(line), line)
        }
    }
}

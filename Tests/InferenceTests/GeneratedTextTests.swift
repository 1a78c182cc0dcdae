@testable import Inference
import XCTest

/// Stop strings and UTF-8 across tokens, as a sequence's text is released.
final class GeneratedTextTests: XCTestCase {
    private func token(_ id: Int32) -> TokenLogprob { TokenLogprob(token: id, logprob: -1, top: []) }

    func testHoldsBackWhatAStopStringCouldStillClaimAndCutsBeforeIt() {
        let text = GeneratedText(stops: ["END"])
        var released = ""
        for (i, piece) in ["hello ", "E", "N", "D", " more"].enumerated() {
            let (out, stopped) = text.add(token(Int32(i)), bytes: Array(piece.utf8))
            released += out.text
            if stopped {
                XCTAssertEqual(i, 3)
                break
            }
        }
        released += text.finish().text
        XCTAssertEqual(released, "hello ")
    }

    func testAStopStringInsideOneTokenEndsTheTextAndKeepsTheTokenThatStartedBeforeIt() {
        let text = GeneratedText(stops: ["\n\n"])
        let (first, _) = text.add(token(1), bytes: Array("ab".utf8))
        let (second, stopped) = text.add(token(2), bytes: Array("c\n\nd".utf8))
        XCTAssertTrue(stopped)
        XCTAssertEqual(first.text + second.text + text.finish().text, "abc")
        XCTAssertEqual((first.tokens + second.tokens).map(\.token), [1, 2])
    }

    func testACharacterSplitAcrossTokensIsReleasedWhole() {
        let text = GeneratedText(stops: [])
        let euro = Array("€".utf8)
        let (a, _) = text.add(token(1), bytes: [euro[0]])
        let (b, _) = text.add(token(2), bytes: [euro[1]])
        let (c, _) = text.add(token(3), bytes: [euro[2], UInt8(ascii: "!")])
        XCTAssertEqual(a.text + b.text, "")
        XCTAssertEqual(c.text, "€!")
        XCTAssertEqual(c.tokens.map(\.token), [1, 2, 3])
    }

    func testWithoutStopsEverythingIsReleasedAtOnce() {
        let text = GeneratedText(stops: [])
        XCTAssertEqual(text.add(token(1), bytes: Array("abc".utf8)).0.text, "abc")
        XCTAssertTrue(text.finish().isEmpty)
    }
}

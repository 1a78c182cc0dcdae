@testable import CleanStage
import XCTest

/// The clean stage's text repairs and PII matchers on hand-made cases.
final class CleanTests: XCTestCase {
    private func redact(_ text: String) -> String {
        var counts = PIIRedactor.Counts()
        return PIIRedactor().redact(text, counts: &counts)
    }

    func testEmailsAreRedactedButNotLookalikes() {
        XCTAssertEqual(redact("write to jane.doe+pipe@example.co.uk."), "write to <EMAIL>.")
        XCTAssertEqual(redact("(a_b-c@mail-server.example.org)"), "(<EMAIL>)")
        XCTAssertEqual(redact("decorators like @property and user@localhost stay"), "decorators like @property and user@localhost stay")
        XCTAssertEqual(redact("x@y.z1"), "x@y.z1", "a top-level domain is letters")
    }

    func testIPAddresses() {
        XCTAssertEqual(redact("connect to 192.168.1.20 now"), "connect to <IP> now")
        XCTAssertEqual(redact("server 10.0.0.1:8080"), "server <IP>:8080")
        XCTAssertEqual(redact("version 1.2.3.4.5 and 256.1.1.1 and 3.14"), "version 1.2.3.4.5 and 256.1.1.1 and 3.14")
        XCTAssertEqual(redact("v6 2001:db8::8a2e:370:7334 and ::1 and fe80:0:0:0:202:b3ff:fe1e:8329."),
                       "v6 <IP> and <IP> and <IP>.")
        XCTAssertEqual(redact("at 12:30:45 or a::b:c::d"), "at 12:30:45 or a::b:c::d", "times and two :: are not addresses")
        XCTAssertEqual(redact("dict[a::2] slices"), "dict[a::2] slices", "slices have too few groups")
    }

    func testPhoneNumbersNeedSeparatorsAndEnoughDigits() {
        XCTAssertEqual(redact("call +1 415-555-0132 today"), "call <PHONE> today")
        XCTAssertEqual(redact("call (415) 555-0132."), "call <PHONE>.")
        XCTAssertEqual(redact("+44 20 7946 0958"), "<PHONE>")
        XCTAssertEqual(redact("ids 4155550132 and 2023-01-15 and 1-2-3"), "ids 4155550132 and 2023-01-15 and 1-2-3")
    }

    func testNormalizerRepairsTextButKeepsIndentation() {
        let n = TextNormalizer(form: .nfc)
        XCTAssertEqual(n.normalize("\n\n  def f():\r\n      return 1   \r\n\n\n\nx\u{00A0}y\u{0007}z\u{FEFF}\n\n"), "  def f():\n      return 1\n\nx yz")
        XCTAssertEqual(n.normalize("e\u{0301}te\u{0301}"), "\u{00E9}t\u{00E9}", "NFC composes")
        XCTAssertEqual(TextNormalizer(form: .nfkc).normalize("ﬁle ①"), "file 1", "NFKC folds compatibility forms")
        XCTAssertEqual(TextNormalizer(form: .none).normalize("e\u{0301}"), "e\u{0301}")
        XCTAssertEqual(n.normalize("a\tb"), "a\tb", "tabs stay")
        XCTAssertEqual(n.normalize("x\n  \ny"), "x\n\ny", "a line of spaces is a blank line")
        XCTAssertEqual(n.normalize("a  \n\n\n\t  b \n"), "a\n\n\t  b", "indentation after a blank-line run stays")
        XCTAssertEqual(n.normalize("  \n \u{00A0}\r\n"), "", "white space only")
        XCTAssertEqual(n.normalize("a\u{2003}\u{200B}b\u{0085}c"), "a bc", "Unicode space, zero-width space and C1 control")
        XCTAssertEqual(n.normalize("é \u{00A0}\n ü"), "é\n ü", "non-ASCII characters are visible")
    }

    func testCleanerRejectsWithReasonsAndRedactsWhatItKeeps() {
        let cleaner = Cleaner(html: nil, normalizer: TextNormalizer(form: .nfc), redactor: PIIRedactor(), minWords: 3, minChars: 0,
                              maxWordBytes: 20, language: nil, filters: [])
        var counters = Cleaner.Counters()
        let analysis = TextAnalysis()
        guard case .rejected(let filter, let reason, _) = cleaner.clean("two words", isHTML: false, analysis: analysis, counters: &counters)
        else { return XCTFail() }
        XCTAssertEqual(filter, "length")
        XCTAssertEqual(reason, "2 words < 3")
        guard case .rejected(_, let blob, _) = cleaner.clean("a base64 blob " + String(repeating: "QUJD", count: 6), isHTML: false,
                                                           analysis: analysis, counters: &counters)
        else { return XCTFail("a word over max_word_bytes is rejected") }
        XCTAssertEqual(blob, "a word of 24 bytes > 20")
        guard case .rejected(let empty, _, _) = cleaner.clean(" \u{0007}\n", isHTML: false, analysis: analysis, counters: &counters)
        else { return XCTFail() }
        XCTAssertEqual(empty, "empty")
        guard case .kept(let text, _) = cleaner.clean("mail me at a@b.org please", isHTML: false, analysis: analysis, counters: &counters)
        else { return XCTFail() }
        XCTAssertEqual(String(decoding: text, as: UTF8.self), "mail me at <EMAIL> please")
        XCTAssertEqual(counters.pii.emails, 1)
        XCTAssertEqual(counters.filters["length"]?.documents, 3)
        XCTAssertEqual(counters.filters["length"]?.rejected, 2)
    }
}

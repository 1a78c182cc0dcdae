@testable import CleanStage
import LanguageIdentification
import XCTest

/// The web preset's filters, the word splitter they share, HTML to text and language
/// identification, on hand-made documents. Every expected verdict here is also datatrove's on
/// the same text (checked when the cases were written; bench/clean.sh compares whole corpora).
final class QualityFilterTests: XCTestCase {
    private func words(_ text: String) -> [String] {
        let bytes = Array(text.utf8)
        var ranges: [Range<Int>] = []
        bytes.withUnsafeBufferPointer { WordSplitter().split($0, 0..<$0.count, into: &ranges) }
        return ranges.map { String(decoding: bytes[$0], as: UTF8.self) }
    }

    private func analysis(_ text: String) -> TextAnalysis {
        let a = TextAnalysis()
        a.reset(Array(text.utf8))
        return a
    }

    private func reason(_ verdict: FilterVerdict) -> String? {
        if case .drop(let reason) = verdict { return String(reason.prefix { $0 != ":" }) }
        return nil
    }

    func testWordsSplitLikeSpacysEnglishTokenizer() {
        XCTAssertEqual(words("Don't you think it's 10km away... (U.S.A.) e.g. well-known foo/bar a.b.c 3.5 end."),
                       ["Do", "n't", "you", "think", "it", "'s", "10", "km", "away", "...", "(", "U.S.A.", ")", "e.g.", "well", "-",
                        "known", "foo", "/", "bar", "a.b.c", "3.5", "end", "."])
        XCTAssertEqual(words("He said \"hi.\" Then $5, 100%!"), ["He", "said", "\"", "hi", ".", "\"", "Then", "$", "5", ",", "100", "%", "!"])
        XCTAssertEqual(words("http://example.com/a/b?x=1 and www.foo.org."), ["http://example.com/a/b?x=1", "and", "www.foo.org", "."])
        XCTAssertEqual(words("I'm, you'll, they'd, can't, won't, o'clock"),
                       ["I", "'m", ",", "you", "'ll", ",", "they", "'d", ",", "ca", "n't", ",", "wo", "n't", ",", "o'clock"])
        XCTAssertEqual(words("Mr. Jones etc. and Dr. Who vs. them at 5p.m. on Jan. 5."),
                       ["Mr.", "Jones", "etc", ".", "and", "Dr.", "Who", "vs.", "them", "at", "5p.m.", "on", "Jan.", "5", "."])
        XCTAssertEqual(words("  tabs\tand\u{00A0}spaces\n"), ["tabs", "and", "spaces"])
        XCTAssertEqual(words("a_b __init__ snake_case_name"), ["a_b", "_", "_", "init", "_", "_", "snake_case_name"])
    }

    /// A splitter remembers how the affix rules split a piece: a piece met again gives the same
    /// words at its own place, and a piece of the same length with other bytes is not confused
    /// with it.
    func testRememberedPiecesSplitAlikeWherever() {
        let once = words("print(x), (self, >>> f(x)")
        XCTAssertEqual(once, ["print(x", ")", ",", "(", "self", ",", ">", ">", ">", "f(x", ")"])
        XCTAssertEqual(words("print(x), (self, >>> f(x) print(x), (self, >>> f(x) print(y), (selv,"),
                       once + once + ["print(y", ")", ",", "(", "selv", ","])
        let long = String(repeating: "ab.", count: 30) + "Cd"  // longer than what is remembered
        XCTAssertEqual(words(long + " " + long), words(long) + words(long))
    }

    private let gopherQuality = GopherQualityFilter(settings: .init())  // datatrove's defaults

    private let prose = """
    The history of the project began with a small group of volunteers who wanted a free operating system. \
    They wrote the first tools together and shared them with anyone who asked. Over the years the group grew, \
    and the tools became a complete system that thousands of people use every day at work and at home. \
    Today the project has a constitution, elected leaders, and a clear process for making decisions that \
    affect the whole community.
    """

    func testGopherQuality() {
        XCTAssertEqual(gopherQuality.check(analysis(prose)), .keep)
        XCTAssertEqual(reason(gopherQuality.check(analysis("Too short to be a document of any use."))), "gopher_short_doc")
        let noStopWords = String(repeating: "apples oranges bananas grapes melons ", count: 12)
        XCTAssertEqual(reason(gopherQuality.check(analysis(noStopWords))), "gopher_enough_stop_words")
        let hashes = prose + String(repeating: " #tag", count: 20)
        XCTAssertEqual(reason(gopherQuality.check(analysis(hashes))), "gopher_too_many_hashes")
        let bullets = (0..<60).map { "- the item number \($0) of the list" }.joined(separator: "\n")
        XCTAssertEqual(reason(gopherQuality.check(analysis(bullets))), "gopher_too_many_bullets")
        let numbers = prose + " " + (0..<40).map { "\($0 * 7919)" }.joined(separator: " ")
        XCTAssertEqual(reason(gopherQuality.check(analysis(numbers))), "gopher_below_alpha_threshold")
    }

    private let gopherRepetition = GopherRepetitionFilter(settings: .init())  // datatrove's defaults

    func testGopherRepetition() {
        XCTAssertEqual(gopherRepetition.check(analysis(prose)), .keep)
        let paragraphs = [prose, "Another paragraph here.", prose, "A fourth one.", prose].joined(separator: "\n\n")
        XCTAssertEqual(reason(gopherRepetition.check(analysis(paragraphs))), "dup_para_frac")
        let lines = ["Buy now and save.", "Free shipping on all orders.", "Buy now and save.", "Contact us today.", "Buy now and save."]
            .joined(separator: "\n")
        XCTAssertEqual(reason(gopherRepetition.check(analysis(lines))), "dup_line_frac")
        let bigram = prose + " " + String(repeating: "click here ", count: 30)
        XCTAssertEqual(reason(gopherRepetition.check(analysis(bigram))), "top_2_gram")
        let sentence = "the quick brown fox jumps over the lazy dog while the cat sleeps"
        let repeated = prose + " " + [sentence, sentence, sentence].joined(separator: " and ")
        XCTAssertEqual(reason(gopherRepetition.check(analysis(repeated))), "duplicated_5_n_grams")
    }

    private let c4 = C4QualityFilter(settings: .init())  // datatrove's defaults

    func testC4KeepsPunctuatedLinesAndDropsPagesWithBracketsOrTooFewSentences() {
        let page = """
        Menu
        The river rises in the mountains.[1] It flows east for two hundred miles. Towns grew along its banks.
        Please enable JavaScript to view this page.
        Fishing is popular in the summer months. Boats can be rented in most towns.
        This site uses cookies to improve your experience.
        Read more...
        """
        XCTAssertEqual(rewritten(c4.check(analysis(page))), """
        The river rises in the mountains. It flows east for two hundred miles. Towns grew along its banks.
        Fishing is popular in the summer months. Boats can be rented in most towns.
        """)
        XCTAssertEqual(reason(c4.check(analysis("One sentence only here. And a second one here."))), "too_few_sentences")
        XCTAssertEqual(reason(c4.check(analysis(page + "\nUse dict literals like {1: 2} in code."))), "curly_bracket")
        XCTAssertEqual(reason(c4.check(analysis("Lorem ipsum dolor sit amet, consectetur.\n" + page))), "lorem_ipsum")
        let line = analysis("Mr. Smith arrived. He sat down! Did he stay? \"Yes.\" Then he left.")
        XCTAssertEqual(line.withBytes { SentenceCounter.count($0, line.words[...]) }, 5)
        // Sentences are counted on the document's words, or on the line split again when a
        // citation mark came out of it: both ways give the same counts.
        let cited = "The river rises[1] in the mountains. It flows east. Towns grew[citation needed] along its banks.\n"
            + "Fishing is popular in the summer months. Boats can be rented in most towns."
        XCTAssertEqual(rewritten(c4.check(analysis(cited))), """
        The river rises in the mountains. It flows east. Towns grew along its banks.
        Fishing is popular in the summer months. Boats can be rented in most towns.
        """)
        XCTAssertEqual(reason(c4.check(analysis(cited.replacingOccurrences(of: " Boats can be rented in most towns.", with: "")))),
                       "too_few_sentences", "four sentences, one of them in a line that lost its citations")
    }

    /// The text C4 kept, after checking that the words it hands on are those a fresh split of
    /// that text finds (the next filters use them instead of splitting again).
    private func rewritten(_ verdict: FilterVerdict, file: StaticString = #filePath, line: UInt = #line) -> String? {
        guard case .rewrite(let kept, let words) = verdict else { return nil }
        let text = String(decoding: kept, as: UTF8.self)
        XCTAssertEqual(words, analysis(text).words, "the rewritten text's words", file: file, line: line)
        return text
    }

    private let fineweb = FineWebQualityFilter(settings: .init())  // datatrove's defaults

    func testFineWeb() {
        XCTAssertEqual(fineweb.check(analysis(prose)), .keep)
        let noPunctuation = (0..<10).map { "a heading line without any final mark number \($0)" }.joined(separator: "\n")
        XCTAssertEqual(reason(fineweb.check(analysis(noPunctuation))), "line_punct_ratio")
        let shortLines = (0..<10).map { "Item \($0)." }.joined(separator: "\n")
        XCTAssertEqual(reason(fineweb.check(analysis(shortLines))), "short_line_ratio")
        let duplicated = [prose, prose].joined(separator: "\n")
        XCTAssertEqual(reason(fineweb.check(analysis(duplicated))), "char_dup_ratio")
        let list = ["Telecommunications infrastructure.", "Internationalization considerations.", "Comprehensive documentation.",
                    "Extraordinary circumstances.", "Environmental sustainability.", "Pharmaceutical manufacturing.",
                    "Constitutional amendments.", "Interdisciplinary collaboration.", "Electromagnetic interference.",
                    "Administrative responsibilities.", "Photosynthetic organisms.", "Representative democracy."].joined(separator: "\n")
        XCTAssertEqual(reason(fineweb.check(analysis(list))), "list_ratio")
    }

    func testHTMLTextDropsScriptsStylesAndNavigation() throws {
        let html = """
        <!DOCTYPE html><html><head><title>T</title><style>p { color: red }</style></head>
        <body><nav><a href="/">Home</a> | <a href="/docs">Docs</a></nav>
        <div class="breadcrumbs">Home &gt; Guide</div>
        <h1>The   Guide</h1><p>First &amp; foremost,
        read this.</p><script>var x = 1;</script>
        <ul><li>one</li><li>two</li></ul><pre>  keep
            indentation</pre><table><tr><td>a</td><td>b</td></tr></table>
        <div role="navigation">Next page</div><footer>(c) 2026</footer></body></html>
        """
        XCTAssertEqual(HTMLText().text(of: Array(html.utf8)),
                       "The Guide\n\nFirst & foremost, read this.\n\none\ntwo\n\n  keep\n    indentation\n\na b")
    }

    func testLanguageIdentificationWithCLD2() {
        let identifier = LanguageIdentifier()
        func code(_ s: String) -> String { identifier.identify(Array(s.utf8)).code }
        XCTAssertEqual(code(prose), "en")
        XCTAssertEqual(code("Die Geschichte des Projekts begann mit einer kleinen Gruppe von Freiwilligen, die ein freies Betriebssystem wollten."), "de")
        XCTAssertEqual(code("L'histoire du projet a commencé avec un petit groupe de bénévoles qui voulaient un système d'exploitation libre."), "fr")
        XCTAssertEqual(code("このプロジェクトの歴史は、自由なオペレーティングシステムを望んだ少数のボランティアから始まりました。"), "ja")
        XCTAssertEqual(code("12 34"), "un")
        let rule = Cleaner.LanguageRule(languages: ["en"], minPercent: 50, keepUnknown: false)
        XCTAssertEqual(rule.verdict(identifier.identify(Array(prose.utf8))), .keep)
        XCTAssertEqual(reason(rule.verdict(.init(code: "de", percent: 97, reliable: true))), "language de (97%) is not one of en")
    }
}

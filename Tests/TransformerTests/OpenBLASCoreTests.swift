@testable import Transformer
import XCTest

/// Which OpenBLAS kernel choices pipe replaces, and with what.
final class OpenBLASCoreTests: XCTestCase {
    func testAFallbackBelowTheCPUIsReplacedByTheBestFamilyItRuns() {
        XCTAssertEqual(OpenBLASCore.replacement(for: "Prescott", avx2: true, avx512: true), "SkylakeX")
        XCTAssertEqual(OpenBLASCore.replacement(for: "Prescott", avx2: true, avx512: false), "Haswell")
        XCTAssertEqual(OpenBLASCore.replacement(for: "Sandybridge", avx2: true, avx512: false), "Haswell")
        XCTAssertEqual(OpenBLASCore.replacement(for: "Nehalem", avx2: true, avx512: true), "SkylakeX")
    }

    func testAVectorFamilyOrACPUWithoutAVX2IsLeftAlone() {
        for family in ["Haswell", "Zen", "SkylakeX", "Cooperlake"] {
            XCTAssertNil(OpenBLASCore.replacement(for: family, avx2: true, avx512: true), family)
        }
        XCTAssertNil(OpenBLASCore.replacement(for: "Prescott", avx2: false, avx512: false))
    }
}

@testable import CompareStage
import Foundation
import PipeKit
import XCTest

/// The paired comparison behind `compare`: block sums, bits per byte, and a seeded bootstrap
/// interval that brackets the difference and separates a real gain from noise.
final class PairedScoresTests: XCTestCase {
    func testBlocksSumAndBitsPerByteFollowTheirDefinition() {
        let scores = PairedScores(champion: [1, 2, 3, 4, 5], challenger: [1, 1, 1, 1, 1], bytes: [1, 1, 2, 2, 2], blockSize: 2)
        XCTAssertEqual(scores.blocks.count, 3)
        XCTAssertEqual(scores.blocks[1].champion, 7)
        XCTAssertEqual(scores.blocks[2].bytes, 2)
        let (champion, challenger) = scores.bitsPerByte
        XCTAssertEqual(champion, 15 / log(2) / 8, accuracy: 1e-12)
        XCTAssertEqual(challenger, 5 / log(2) / 8, accuracy: 1e-12)
    }

    func testTheIntervalBracketsTheDifferenceIsSeededAndTellsAGainFromNoise() {
        var rng = SplitMix64(seed: 1)
        let count = 4000
        let champion = (0..<count).map { _ in 2 + rng.nextUnit() }
        let better = champion.map { $0 - 0.1 + (rng.nextUnit() - 0.5) * 0.2 }
        let same = champion.map { $0 + (rng.nextUnit() - 0.5) * 0.2 }
        let bytes = [Int](repeating: 3, count: count)
        let gain = PairedScores(champion: champion, challenger: better, bytes: bytes, blockSize: 50)
        let interval = gain.differenceInterval(resamples: 500, confidence: 0.95, seed: 3)
        let point = gain.bitsPerByte.challenger - gain.bitsPerByte.champion
        XCTAssertTrue(interval.contains(point), "\(interval) brackets \(point)")
        XCTAssertLessThan(interval.upperBound, 0, "a real gain is told apart")
        XCTAssertEqual(interval, gain.differenceInterval(resamples: 500, confidence: 0.95, seed: 3), "seeded")
        let noise = PairedScores(champion: champion, challenger: same, bytes: bytes, blockSize: 50)
            .differenceInterval(resamples: 500, confidence: 0.95, seed: 3)
        XCTAssertTrue(noise.contains(0), "noise alone is not a gain: \(noise)")
    }
}

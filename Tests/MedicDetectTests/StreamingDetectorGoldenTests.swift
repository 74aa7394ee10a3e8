import MedicDetect
import XCTest

/// `knn_conformal` and `adaptive_resonance` give exactly the scores they gave before they were
/// made faster (issue 18): every score and flag of a fixed series, to the last bit, folded into
/// a hash recorded with the code of commit 5a2eeae (the straightforward loops: a linear rank
/// against the calibration set, every category's match computed in full). A change to either
/// detector's arithmetic, its order of operations or its state changes the hash; a change meant
/// to change the scores must record new hashes and say why.
final class StreamingDetectorGoldenTests: XCTestCase {
    /// A seasonal series (a triangle wave of period 144, no transcendental functions so that it is
    /// the same on every platform) with uniform noise, spikes every 701 samples, a level shift at
    /// 3,000, a flat stretch at 4,500..<4,800 (zero distances, an all-zero calibration set) and
    /// dips every 1,009 samples.
    static let series: [Double] = {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func uniform() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
        return (0..<6_000).map { i -> Double in
            let phase = i % 144
            var x = 40 + Double(phase < 72 ? phase : 144 - phase) / 3 + 6 * uniform()
            if i >= 3_000 { x += 25 }
            if i % 701 == 350 { x += 60 }
            if i % 1_009 == 500 { x -= 45 }
            if (4_500..<4_800).contains(i) { x = 70 }
            return x
        }
    }()

    /// Values near the top of the double range, so that squared distances and block sums
    /// overflow to infinity (the detectors' non-finite paths).
    static let huge: [Double] = series.enumerated().map { i, x in i % 97 == 13 ? 1e300 : x * 1e150 }

    struct Digest: Equatable, CustomStringConvertible {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        var anomalies = 0
        var scored = 0

        mutating func add(_ output: DetectorOutput) {
            add(output.score.bitPattern)
            add(output.anomalous ? 1 : 0)
            anomalies += output.anomalous ? 1 : 0
            scored += output.score != 0 ? 1 : 0
        }

        mutating func add(_ word: UInt64) {
            // FNV-1a over the word's bytes.
            for shift in stride(from: 0, to: 64, by: 8) {
                hash = (hash ^ ((word >> UInt64(shift)) & 0xFF)) &* 0x100_0000_01B3
            }
        }

        mutating func add(_ text: String) {
            for byte in text.utf8 { add(UInt64(byte)) }
        }

        var description: String { "Digest(hash: 0x\(String(hash, radix: 16, uppercase: true)), anomalies: \(anomalies), scored: \(scored))" }
    }

    static func digest<D: StreamingDetector>(_ detector: D, _ values: [Double], explanation: (D) -> String) -> Digest {
        var detector = detector
        var digest = Digest()
        for (i, x) in values.enumerated() { digest.add(detector.observe(time: Double(i) * 60, value: x)) }
        digest.add(explanation(detector))
        return digest
    }

    func testKNNConformalScoresAreThoseOfTheStraightforwardLoops() {
        let cases: [(String, KNNConformalDetector, [Double], Digest)] = [
            ("defaults", KNNConformalDetector(), Self.series,
             Digest(hash: 0xA22E_8F83_9E8A_44E6, anomalies: 154, scored: 5546)),
            ("dimension 1, training 2, calibration 3, k 1", KNNConformalDetector(dimension: 1, training: 2, calibration: 3, k: 1),
             Self.series, Digest(hash: 0xE8B7_AEDF_F3A7_46D2, anomalies: 6, scored: 4292)),
            ("dimension 4, training 6, calibration 20, k 2", KNNConformalDetector(dimension: 4, training: 6, calibration: 20, k: 2, threshold: 0.9),
             Self.series, Digest(hash: 0x1D5A_25F0_04B8_CB61, anomalies: 643, scored: 5320)),
            ("dimension 25, training 200, calibration 500, k 5",
             KNNConformalDetector(dimension: 25, training: 200, calibration: 500, k: 5, threshold: 0.95),
             Self.series, Digest(hash: 0x21E1_5C7F_EF45_5DC2, anomalies: 253, scored: 5457)),
            ("defaults, huge values", KNNConformalDetector(), Self.huge,
             Digest(hash: 0x69A9_BAF6_0E36_854F, anomalies: 1, scored: 5578)),
        ]
        for (name, detector, values, expected) in cases {
            XCTAssertEqual(Self.digest(detector, values) { $0.explanation }, expected, name)
        }
    }

    func testAdaptiveResonanceScoresAreThoseOfTheStraightforwardLoops() {
        let cases: [(String, AdaptiveResonanceDetector, [Double], Digest)] = [
            ("defaults", AdaptiveResonanceDetector(), Self.series,
             Digest(hash: 0x07C7_67CE_52B2_703C, anomalies: 16, scored: 1068)),
            ("step 1, window 4, capacity 8", AdaptiveResonanceDetector(step: 1, window: 4, levels: 20, learning: 40, capacity: 8),
             Self.series, Digest(hash: 0x4BB0_8908_B690_E0F8, anomalies: 134, scored: 5664)),
            ("step 2, window 16, capacity 16", AdaptiveResonanceDetector(step: 2, window: 16, levels: 100, learning: 200, capacity: 16),
             Self.series, Digest(hash: 0x9E8F_6683_A2B8_2E34, anomalies: 23, scored: 2766)),
            ("step 1, window 64, capacity 256", AdaptiveResonanceDetector(step: 1, window: 64, levels: 1_000, learning: 1_000, capacity: 256),
             Self.series, Digest(hash: 0x0F6A_B563_17AC_BD25, anomalies: 7, scored: 5000)),
            ("step 3, window 5, capacity 1", AdaptiveResonanceDetector(step: 3, window: 5, levels: 7, learning: 30, capacity: 1),
             Self.series, Digest(hash: 0x382D_EBA4_8023_6E70, anomalies: 82, scored: 1895)),
            ("defaults, huge values", AdaptiveResonanceDetector(), Self.huge,
             Digest(hash: 0xCC95_2224_889F_A302, anomalies: 10, scored: 670)),
        ]
        for (name, detector, values, expected) in cases {
            XCTAssertEqual(Self.digest(detector, values) { $0.explanation }, expected, name)
        }
    }
}

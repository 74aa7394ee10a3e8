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

    static func digest<D: StreamingDetector>(_ detector: D, _ values: [Double], step: Double = 60, explanation: (D) -> String) -> Digest {
        var detector = detector
        var digest = Digest()
        for (i, x) in values.enumerated() { digest.add(detector.observe(time: Double(i) * step, value: x)) }
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
            // k of 4 (the last k of the four branch-free lanes) and 6 (the insertion path for k > 4), recorded
            // later with the code of 5a2eeae built apart (swiftc, its MedicText, MedicModel and
            // MedicDetect), whose defaults gave the hashes above.
            ("dimension 6, training 30, calibration 40, k 4",
             KNNConformalDetector(dimension: 6, training: 30, calibration: 40, k: 4, threshold: 0.97),
             Self.series, Digest(hash: 0x5F35_BD70_F930_94D4, anomalies: 291, scored: 5420)),
            ("dimension 8, training 60, calibration 90, k 6",
             KNNConformalDetector(dimension: 8, training: 60, calibration: 90, k: 6, threshold: 0.99),
             Self.series, Digest(hash: 0x9368_973C_BBB2_1938, anomalies: 21, scored: 5537)),
            ("dimension 6, training 30, calibration 40, k 4, huge values",
             KNNConformalDetector(dimension: 6, training: 30, calibration: 40, k: 4, threshold: 0.97),
             Self.huge, Digest(hash: 0xDF2E_4AE8_8753_A0C4, anomalies: 187, scored: 5443)),
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
            // Capacities that are not a multiple of 4 (the faster match takes categories four at a
            // time), recorded later with the code of 5a2eeae built apart, as above.
            ("step 1, window 4, capacity 6", AdaptiveResonanceDetector(step: 1, window: 4, levels: 20, learning: 40, capacity: 6),
             Self.series, Digest(hash: 0x26B1_F896_B88D_1762, anomalies: 132, scored: 5664)),
            ("step 2, window 8, capacity 3", AdaptiveResonanceDetector(step: 2, window: 8, levels: 50, learning: 100, capacity: 3),
             Self.series, Digest(hash: 0xBD1D_5127_F153_1E6B, anomalies: 54, scored: 2808)),
            ("step 1, window 16, capacity 13", AdaptiveResonanceDetector(step: 1, window: 16, levels: 100, learning: 300, capacity: 13),
             Self.series, Digest(hash: 0xD62D_09A7_23CD_1053, anomalies: 17, scored: 5416)),
            ("step 1, window 16, capacity 13, huge values",
             AdaptiveResonanceDetector(step: 1, window: 16, levels: 100, learning: 300, capacity: 13),
             Self.huge, Digest(hash: 0x49E9_D885_49F3_5F8E, anomalies: 15, scored: 5467)),
        ]
        for (name, detector, values, expected) in cases {
            XCTAssertEqual(Self.digest(detector, values) { $0.explanation }, expected, name)
        }
    }

    /// `periodic` keeps each block's mean and number side by side in one ring (one cache line per
    /// reference instead of two arrays' lines): its scores are those it gave with two arrays,
    /// recorded with the code of commit e999fb6. Samples 60 s to 10 min apart, so that the series
    /// spans days (5 min: 20 days, with references a week back).
    func testPeriodicScoresAreThoseOfItsTwoArrays() {
        let cases: [(String, PeriodicDetector, [Double], Double, Digest)] = [
            ("defaults, every 5 min", PeriodicDetector(), Self.series, 300,
             Digest(hash: 0x3A14_7315_C76E_7E4D, anomalies: 19, scored: 5313)),
            ("block 5 min, every minute", PeriodicDetector(block: 300), Self.series, 60,
             Digest(hash: 0x4D3A_2878_6093_A5DB, anomalies: 22, scored: 4161)),
            ("block 1 h, alpha 0.05, threshold 2, warmup 10, every 10 min",
             PeriodicDetector(block: 3_600, alpha: 0.05, threshold: 2, warmup: 10), Self.series, 600,
             Digest(hash: 0xA114_C8F9_62DA_3F37, anomalies: 330, scored: 5547)),
            ("defaults, every 5 min, huge values", PeriodicDetector(), Self.huge, 300,
             Digest(hash: 0x4C77_B074_7402_D1B7, anomalies: 58, scored: 5319)),
        ]
        for (name, detector, values, step, expected) in cases {
            XCTAssertEqual(Self.digest(detector, values, step: step) { $0.explanation }, expected, name)
        }
    }

    /// `context`'s scores and explanations as it gave them with its facts in three arrays,
    /// recorded with the code of commit e999fb6: a change to how it keeps them must not change
    /// a bit.
    func testContextScoresAreThoseOfItsThreeArrays() {
        let cases: [(String, ContextDetector, [Double], Digest)] = [
            ("defaults", ContextDetector(), Self.series, Digest(hash: 0xE1F3_F12C_E2DD_E5C2, anomalies: 142, scored: 5695)),
            ("levels 32, span 64", ContextDetector(levels: 32, span: 64, threshold: 0.3), Self.series, Digest(hash: 0x1486_7B18_FBB1_4832, anomalies: 5456, scored: 5695)),
            ("levels 2, span 1", ContextDetector(levels: 2, span: 1, threshold: 0.6), Self.series, Digest(hash: 0xD739_D8E1_DD15_7373, anomalies: 4, scored: 5700)),
            ("levels 5, span 9", ContextDetector(levels: 5, span: 9, threshold: 0.4), Self.series, Digest(hash: 0x398E_D321_D8EB_7BA5, anomalies: 952, scored: 5692)),
            ("defaults, huge values", ContextDetector(), Self.huge, Digest(hash: 0x466C_73A6_CC05_FDD7, anomalies: 17, scored: 5700)),
        ]
        for (name, detector, values, expected) in cases {
            XCTAssertEqual(Self.digest(detector, values) { $0.explanation }, expected, name)
        }
    }
}

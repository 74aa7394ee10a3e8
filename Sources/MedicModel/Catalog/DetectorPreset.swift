/// A named detector configuration: what a rule's `detector:` (and `medic detect --detector`)
/// may name instead of a detector and its `params`. The table below is the one place a preset
/// is defined: the loader, the CLI's help, the rules schema's check and MedicBench's `nab` rows
/// all read it, so they cannot disagree about what a name means.
public struct DetectorPreset: Sendable, Hashable {
    /// What a rule writes: `detector: composite-nab`.
    public var name: String
    /// The configuration in a few words, for help texts and the benchmark's table.
    public var description: String
    public var spec: DetectorSpec

    public init(name: String, description: String, spec: DetectorSpec) {
        self.name = name
        self.description = description
        self.spec = spec
    }

    /// Every preset, one entry per name. Names must not collide with a `DetectorKind`.
    public static let all: [DetectorPreset] = [
        DetectorPreset(name: "ewma-nab", description: "ewma alpha 0.01, threshold 3, warmup 100", spec: nabEWMA),
        DetectorPreset(name: "composite-nab", description: "ewma-nab in a composite, threshold 0.5, refractory 8h",
                       spec: .composite(components: [.init(detector: nabEWMA, weight: 1)], threshold: 0.5,
                                        refractory: Interval(seconds: 8 * 3600))),
        DetectorPreset(name: "auto", description: "knn_conformal x1, context x1, periodic x3, range as a gate; threshold 0.73, "
                           + "refractory 16h",
                       spec: autoEnsemble),
    ]

    /// The preset of that name, if there is one.
    public static func named(_ name: String) -> DetectorPreset? {
        all.first { $0.name == name }
    }

    public static var names: [String] { all.map(\.name) }

    /// A slow EWMA whose deviation is a series' long-run spread (docs/detection.md, "NAB scores",
    /// says how it was chosen).
    public static let nabEWMA = DetectorSpec.ewma(alpha: 0.01, threshold: 3, warmup: 100)

    /// One configuration for any series, chosen once on the NAB subset by leave-one-corpus-out
    /// cross-validation (docs/detection.md, "The auto preset"; `AutoPreset` in MedicDetect
    /// gives its memory per series).
    public static let autoEnsemble = DetectorSpec.composite(
        components: [.init(detector: autoKNN, weight: 1), .init(detector: autoContext, weight: 1), .init(detector: autoPeriodic, weight: 3),
                     .init(detector: autoRange, weight: 1, gate: true)],
        threshold: 0.73, refractory: Interval(seconds: 16 * 3600))
    /// `auto`'s nearest-neighbour conformal and context components, at their defaults.
    public static let autoKNN = DetectorSpec.knnConformal(dimension: 10, training: 50, calibration: 100, k: 3, threshold: 0.99)
    public static let autoContext = DetectorSpec.context(levels: 8, span: 7, threshold: 0.5)
    /// `auto`'s periodic component, at its defaults: the previous value, the same time a day and a
    /// week before.
    public static let autoPeriodic = DetectorSpec.periodic(block: Interval(seconds: 1_800), alpha: 0.01, threshold: 3, warmup: 100)
    /// `auto`'s gate, at its defaults: a value outside the range seen so far.
    public static let autoRange = DetectorSpec.range(tolerance: 0, warmup: 100)
}

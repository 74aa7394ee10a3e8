import ArgumentParser
import Foundation
import MedicDetect
import MedicLoader
import MedicModel

struct DetectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "Score every sample of a CSV series with one anomaly detector.",
        discussion: """
            Reads a series as CSV (NAB's format: a header line, then timestamp,value rows), runs \
            one detector over it sample by sample, in file order, and writes \
            timestamp,value,anomaly_score to standard output: timestamp and value as given, the \
            score in [0, 1]. A score of 0.5 is the detector's limit: above it the sample is \
            anomalous. docs/detection.md explains each detector and its score.

            Timestamps: YYYY-MM-DD HH:MM:SS (UTC), RFC 3339 (2015-01-01T00:00:00Z) or epoch seconds. \
            A row older than the one before, a repeated timestamp, or a NaN or infinite value scores \
            0 and leaves the detector as it was.

            Detectors and their --param key=value (defaults as in a rules file):
              threshold       op (> >= < <= == !=) and value (85, 90%, 2s), required
              moving_average  window=100 k=3
              ewma            alpha=0.2 threshold=3 warmup=30
              iqr             window=100 multiplier=1.5
              rate_of_change  change (30%) and within (1m), required;
                              direction=both (or increase, decrease)
              seasonal        low=5 high=95 min_samples=4
              composite       components (required: a YAML list as in a rules
                              file), threshold=0.5, refractory (a duration
                              such as 8h: for that long after an anomaly,
                              scores not above its peak are halved; default
                              none); a component with gate: true is not
                              averaged but counts alone at its limit
              context         levels=8 span=7 threshold=0.5
              relative_entropy
                              window=52 bins=10 models=8 confidence=0.99
              knn_conformal   dimension=10 training=50 calibration=100 k=3
                              threshold=0.99
              adaptive_resonance
                              step=5 window=8 levels=80 learning=400
                              capacity=64 threshold=0.5
              range           tolerance=0 warmup=100
              periodic        block=30m alpha=0.01 threshold=3 warmup=100

            Presets: whole configurations by name, as a rule's detector: names them \
            (they take no --param; docs/detection.md, "Presets", says how they were tuned):
            \(DetectorPreset.all.map { "  \($0.name.padding(toLength: 16, withPad: " ", startingAt: 0))\($0.description)" }.joined(separator: "\n"))

            Exit status: 0 scored; 1 the file cannot be read, or rows could not be (each reported \
            as FILE:LINE: message on standard error, the other rows still scored); 2 usage (an \
            unknown detector, a bad --param).

            Examples:
              medic detect --detector ewma --csv machine_temperature.csv
              medic detect --detector threshold --param 'op=>' --param value=90 \\
                --csv cpu.csv
              medic detect --detector rate_of_change --param change=30% \\
                --param within=1m --param direction=increase --csv cpu.csv
              medic detect --detector composite --csv cpu.csv --param \\
                'components=[{detector: ewma, weight: 0.6}, {detector: iqr}]'
              medic detect --detector composite-nab --csv machine_temperature.csv
            """
    )

    // The detectors are listed once: in the discussion, and in the refusal of an unknown one.
    @Option(help: "The detector that scores the series, or a preset (the lists below); --param gives a detector's parameters.",
            transform: DetectorName.named)
    var detector: DetectorName

    @Option(name: .customLong("param"), help: "A detector parameter as key=value (repeatable), e.g. --param window=60.",
            transform: DetectorParameter.argument)
    var params: [DetectorParameter] = []

    @Option(help: "The series: CSV with a header line and timestamp,value rows.")
    var csv: String

    func validate() throws {
        _ = try DetectorParameters.spec(detector: detector.text, params: params.map(\.text))
    }

    func run() throws {
        var detector = Detectors.make(try DetectorParameters.spec(detector: detector.text, params: params.map(\.text)))
        let scoring = SeriesScoring(write: { try StandardStream.output.write(bytes: $0) }, report: { MedicLog.log.warning("\($0)") })
        let failures: Int
        do {
            failures = try scoring.score(csv: csv, with: &detector)
        } catch let failure as SeriesScoring.Failure {
            throw CommandFailure(failure.description)
        }
        if failures > 0 { throw ExitCode(1) }
    }
}

/// `--param key=value` pairs turned into a `DetectorSpec` by the loader itself (the pairs become
/// a one-rule document, `DetectorFlags`), so that the CLI has the rules file's defaults, ranges
/// and messages.
enum DetectorParameters {
    static func spec(detector: String, params: [String]) throws -> DetectorSpec {
        let document: String
        do {
            document = try DetectorFlags(detector: detector, params: params).document()
        } catch let failure as DetectorFlags.Failure {
            throw ValidationError(failure.description)
        }
        let loaded = CatalogLoader(threads: 1).load(documents: [("--param", Array(document.utf8))])
        let errors = loaded.diagnostics.filter { $0.severity == .error }
        guard errors.isEmpty, let rule = loaded.catalog.rules.first else {
            let messages = errors.map { "\($0.message)\($0.hint.map { " (\($0))" } ?? "")" }
            throw ValidationError(messages.isEmpty ? "detector \(detector): the parameters cannot be read" : messages.joined(separator: "\n"))
        }
        return rule.detector
    }
}

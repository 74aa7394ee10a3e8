import ArgumentParser
import Foundation
import MedicEngine
import MedicModel

// The option values of the commands that run playbooks and detectors, parsed by argument-parser
// like those of TypedArguments.swift: a bad value is a usage error (exit 2) naming the option
// and its forms, before any state is opened.

/// `--workdir`: a directory that exists when the command starts.
struct WorkingDirectory: DescribedArgument, Sendable {
    var path: String

    init?(argument: String) {
        var isDirectory: ObjCBool = false
        guard !argument.isEmpty, FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory), isDirectory.boolValue else {
            return nil
        }
        path = argument
    }

    static var acceptedForms: String { "an existing directory" }
}

/// `--pass-env`: the name of a variable of Medic's environment. A name cannot be empty, nor hold
/// `=` (it would end the name) or NUL (it would end the entry).
struct VariableName: DescribedArgument, Sendable {
    var name: String

    init?(argument: String) {
        guard !argument.isEmpty, !argument.contains("="), !argument.contains("\0") else { return nil }
        name = argument
    }

    static var acceptedForms: String { "a variable name such as AWS_PROFILE or KUBECONFIG (not empty, without =)" }
}

/// `--sign-off ROLE=NAME`: who signed off as which role; neither may be empty.
struct SignOff: DescribedArgument, Sendable {
    var role: String
    var name: String

    init?(argument: String) {
        guard let pair = NamedValue(argument: argument), !pair.value.isEmpty else { return nil }
        role = pair.name
        name = pair.value
    }

    static var acceptedForms: String { "ROLE=NAME, such as sre_lead=alice" }

    /// Role -> who; a role given twice keeps its last name.
    static func dictionary(_ signOffs: [SignOff]) -> [String: String] {
        Dictionary(signOffs.map { ($0.role, $0.name) }, uniquingKeysWith: { _, last in last })
    }
}

/// `--target NAME[,LABEL=VALUE...]`: one target and its labels (`TargetSources.parse(flag:)`).
struct TargetArgument: DescribedArgument, Sendable {
    var target: TargetSpec

    init?(argument: String) {
        guard let target = try? TargetSources.parse(flag: argument) else { return nil }
        self.target = target
    }

    static var acceptedForms: String {
        "NAME[,LABEL=VALUE...], such as web-1 or web-1,service=web,region=eu-west-1 (a name of letters, digits and . _ -)"
    }
}

/// `detect --detector`: what a rule's `detector:` can name, a detector or a preset.
struct DetectorName: DescribedArgument, Sendable {
    var text: String

    init?(argument: String) {
        guard DetectorKind(rawValue: argument) != nil || DetectorPreset.named(argument) != nil else { return nil }
        text = argument
    }

    static var choices: [String] { DetectorKind.allCases.map(\.rawValue) + DetectorPreset.names }

    static var acceptedForms: String { choices.joined(separator: ", ") }

    /// As `argument(_:)`, the refusal of a near miss adding the name it resembles.
    @Sendable static func named(_ text: String) throws -> DetectorName {
        if let name = DetectorName(argument: text) { return name }
        let hint = Spelling.suggestion(for: text, among: choices).map { " (did you mean '\($0)'?)" } ?? ""
        throw ArgumentFormError(acceptedForms: acceptedForms + hint)
    }
}

/// `detect --param KEY=VALUE`: a detector parameter. The key is a parameter name (a letter or _
/// first, then letters, digits and _); the value is one line. Whether the detector takes the
/// key and the value is in range is the loader's to say, as for a rules file.
struct DetectorParameter: DescribedArgument, Sendable {
    var text: String

    init?(argument: String) {
        guard let pair = NamedValue(argument: argument), let first = pair.name.first, first.isLetter || first == "_",
              pair.name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }),
              !pair.value.contains(where: \.isNewline) else { return nil }
        text = argument
    }

    static var acceptedForms: String { "KEY=VALUE on one line, KEY of letters, digits and _, such as window=60 or op=>" }
}
